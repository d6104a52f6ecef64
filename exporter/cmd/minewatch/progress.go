package main

import (
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// newBar is the progress bar of long commands: on standard error, redrawn at
// most four times a second, and silent when standard error is not a terminal
// (CI logs, pipes), where a redrawn line would only fill the log.
func newBar(total int64, desc string, bytes bool) *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionThrottle(250 * time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionOnCompletion(func() { os.Stderr.WriteString("\n") }),
		progressbar.OptionSetVisibility(term.IsTerminal(int(os.Stderr.Fd()))),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	}
	return progressbar.NewOptions64(total, opts...)
}

// barProgress adapts newBar to a package's progress callback (step, done,
// total): a bar per step, finished when the step is done or the next begins;
// bytes counts in bytes.
func barProgress(bytes bool) func(step string, done, total int64) {
	var bar *progressbar.ProgressBar
	var current string
	return func(step string, done, total int64) {
		if step != current {
			if bar != nil && !bar.IsFinished() {
				bar.Finish() //nolint:errcheck // display only
			}
			bar, current = newBar(total, step, bytes), step
		}
		if bar.IsFinished() {
			return
		}
		bar.Set64(done) //nolint:errcheck // display only
		if done >= total && !bar.IsFinished() {
			bar.Finish() //nolint:errcheck // display only
		}
	}
}
