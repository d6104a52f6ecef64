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
