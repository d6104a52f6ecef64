// Package reload calls a load function again when its files change or the
// process gets SIGHUP, so ledger and intel edits go live without a restart.
// The caller keeps its previous good value when load fails; reload only
// says so in the log.
package reload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher reloads one thing (the ledger, the intel lists…).
type Watcher struct {
	Name     string        // what is reloaded, for the log: "ledger", "intel"
	Paths    []string      // files or directories to watch
	Load     func() error  // reloads; on error the caller keeps its previous version
	Logger   *slog.Logger  // default slog.Default()
	Debounce time.Duration // quiet time after the last file event (default 500ms)
	// NoSignal disables SIGHUP handling (when something else owns the signal).
	NoSignal bool
	// OnLoad, if set, is told each reload's outcome (metrics, tests).
	OnLoad func(error)
	// OnReady, if set, is called once the watches are in place.
	OnReady func()
}

// Run watches until ctx ends. When the file watches cannot be set up it logs
// why and goes on with SIGHUP alone. It does not load at start:
// the caller loads once itself, so that a bad file stops start-up instead of
// leaving the exporter with nothing.
//
// Directories are watched rather than files: editors and config tools save
// by writing a new file and renaming it over the old one, which a watch on
// the old file's inode would miss.
func (w *Watcher) Run(ctx context.Context) error {
	log := w.Logger
	if log == nil {
		log = slog.Default()
	}
	debounce := w.Debounce
	if debounce <= 0 {
		debounce = 500 * time.Millisecond
	}
	files := map[string]bool{} // absolute file paths of interest
	dirs := map[string]bool{}  // watched directories whose every file matters
	// Without file watches (inotify limits reached, a path gone) SIGHUP
	// still reloads: that is said in the log, and Run goes on.
	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	fw, err := fsnotify.NewWatcher()
	if err == nil {
		defer fw.Close()
		err = w.watch(fw, files, dirs)
	}
	if err != nil {
		log.Error(w.Name+": file changes are not watched, SIGHUP still reloads: "+err.Error(), "reload", w.Name)
	} else {
		events, watchErrs = fw.Events, fw.Errors
	}
	relevant := func(name string) bool {
		abs, err := filepath.Abs(name)
		if err != nil {
			return false
		}
		base := filepath.Base(abs)
		if strings.HasPrefix(base, "..") {
			return true // Kubernetes ConfigMap volumes swap a "..data" symlink
		}
		if strings.HasPrefix(base, ".") || strings.HasSuffix(base, "~") || strings.HasSuffix(base, ".swp") {
			return false // editor scratch files
		}
		return files[abs] || dirs[filepath.Dir(abs)]
	}

	var hup chan os.Signal
	if !w.NoSignal {
		hup = make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}

	load := func(why string) {
		err := w.Load()
		if err != nil {
			log.Error(w.Name+": keeping the previous version: "+err.Error(), "reload", w.Name, "trigger", why)
		} else {
			log.Info(w.Name+": reloaded", "reload", w.Name, "trigger", why)
		}
		if w.OnLoad != nil {
			w.OnLoad(err)
		}
	}

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	if w.OnReady != nil {
		w.OnReady()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			timer.Stop()
			load("SIGHUP")
		case ev, ok := <-events:
			if !ok {
				return errors.New("reload: file watcher closed")
			}
			if ev.Op == fsnotify.Chmod || !relevant(ev.Name) {
				continue
			}
			timer.Reset(debounce)
		case err, ok := <-watchErrs:
			if !ok {
				return errors.New("reload: file watcher closed")
			}
			log.Warn(w.Name+": file watch: "+err.Error(), "reload", w.Name)
		case <-timer.C:
			load("file change")
		}
	}
}

// watch adds the directories of w.Paths to fw and fills files and dirs.
func (w *Watcher) watch(fw *fsnotify.Watcher, files, dirs map[string]bool) error {
	for _, p := range w.Paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("reload %s: %w", w.Name, err)
		}
		dir := filepath.Dir(abs)
		if st, err := os.Stat(abs); err == nil && st.IsDir() {
			dir = abs
			dirs[abs] = true
		} else {
			files[abs] = true
		}
		if err := fw.Add(dir); err != nil {
			return fmt.Errorf("reload %s: watching %s: %w", w.Name, dir, err)
		}
	}
	return nil
}
