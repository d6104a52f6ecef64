package reload

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/testsupport"
)

type syncBuffer = testsupport.SyncBuffer

// replace saves like an editor: write a temporary file, rename it over.
func replace(t *testing.T, path, data string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

type harness struct {
	value   atomic.Int64 // the "current good version"
	loads   atomic.Int64
	results chan error
	log     syncBuffer
}

func start(t *testing.T, paths []string, read func() (int64, error)) *harness {
	t.Helper()
	h := &harness{results: make(chan error, 16)}
	load := func() error {
		v, err := read()
		if err != nil {
			return err // keep the previous value
		}
		h.value.Store(v)
		return nil
	}
	if err := load(); err != nil {
		t.Fatal(err)
	}
	w := &Watcher{
		Name:     "test",
		Paths:    paths,
		Load:     func() error { h.loads.Add(1); return load() },
		Logger:   slog.New(slog.NewTextHandler(&h.log, nil)),
		Debounce: 200 * time.Millisecond,
		OnLoad:   func(err error) { h.results <- err },
	}
	ready := make(chan struct{})
	w.OnReady = func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	var runErr error
	stopped := make(chan struct{})
	go func() { runErr = w.Run(ctx); close(stopped) }()
	t.Cleanup(func() {
		cancel()
		<-stopped
		if runErr != nil {
			t.Error(runErr)
		}
	})
	select {
	case <-ready:
	case <-stopped:
		t.Fatalf("watcher stopped before it was ready: %v", runErr)
	}
	return h
}

func (h *harness) next(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.results:
		return err
	case <-time.After(3 * time.Second):
		t.Fatal("no reload within 3s")
		return nil
	}
}

func (h *harness) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case err := <-h.results:
		t.Fatalf("unexpected reload (err=%v)", err)
	case <-time.After(d):
	}
}

func readInt(path string) func() (int64, error) {
	return func() (int64, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s:1: %q is not a number", filepath.Base(path), strings.TrimSpace(string(data)))
		}
		return v, nil
	}
}

func TestReloadOnFileChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "value.txt")
	replace(t, path, "1")
	h := start(t, []string{path}, readInt(path))
	if h.value.Load() != 1 {
		t.Fatal("initial load")
	}

	replace(t, path, "2") // rename-and-replace save
	if err := h.next(t); err != nil || h.value.Load() != 2 {
		t.Fatalf("good edit: err=%v value=%d", err, h.value.Load())
	}

	if err := os.WriteFile(path, []byte("two"), 0o644); err != nil { // in-place write, bad content
		t.Fatal(err)
	}
	if err := h.next(t); err == nil || h.value.Load() != 2 {
		t.Fatalf("bad edit: err=%v value=%d (previous must stay)", err, h.value.Load())
	}
	if !strings.Contains(h.log.String(), `test: keeping the previous version: value.txt:1: \"two\" is not a number`) {
		t.Errorf("log lacks the reason:\n%s", h.log.String())
	}

	replace(t, path, "3")
	if err := h.next(t); err != nil || h.value.Load() != 3 {
		t.Fatalf("fixed edit: err=%v value=%d", err, h.value.Load())
	}

	// A burst of saves is debounced into (nearly always) one reload; under
	// heavy load a pause inside the burst may split it, never into one per save.
	before := h.loads.Load()
	for i := 4; i <= 8; i++ {
		replace(t, path, strconv.Itoa(i))
	}
	for h.value.Load() != 8 {
		if err := h.next(t); err != nil {
			t.Fatalf("burst: %v", err)
		}
	}
	h.none(t, 300*time.Millisecond)
	if n := h.loads.Load() - before; n >= 5 {
		t.Errorf("burst of 5 saves caused %d loads: no debouncing", n)
	}

	// Other files in the directory do not matter.
	replace(t, filepath.Join(dir, "unrelated.txt"), "x")
	h.none(t, 300*time.Millisecond)
}

func TestReloadOnSIGHUP(t *testing.T) {
	// Our own subscription keeps a SIGHUP that arrives before the watcher
	// subscribes from killing the test binary.
	guard := make(chan os.Signal, 4)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	// The watcher watches another directory, so only the signal can make it
	// see this change.
	path := filepath.Join(t.TempDir(), "value.txt")
	replace(t, path, "10")
	h := start(t, []string{filepath.Join(t.TempDir(), "watched.txt")}, readInt(path))
	replace(t, path, "11")
	h.none(t, 300*time.Millisecond)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := h.next(t); err != nil || h.value.Load() != 11 {
		t.Fatalf("SIGHUP: err=%v value=%d", err, h.value.Load())
	}
	if !strings.Contains(h.log.String(), "trigger=SIGHUP") {
		t.Errorf("log lacks the SIGHUP trigger:\n%s", h.log.String())
	}
}

func TestReloadWatchesDirectory(t *testing.T) {
	dir := t.TempDir()
	sum := func() (int64, error) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return 0, err
		}
		var total int64
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			v, err := readInt(filepath.Join(dir, e.Name()))()
			if err != nil {
				return 0, err
			}
			total += v
		}
		return total, nil
	}
	replace(t, filepath.Join(dir, "a.csv"), "5")
	h := start(t, []string{dir}, sum)
	replace(t, filepath.Join(dir, "b.csv"), "7") // a new file in the directory
	if err := h.next(t); err != nil || h.value.Load() != 12 {
		t.Fatalf("new file: err=%v value=%d", err, h.value.Load())
	}
	if err := os.Remove(filepath.Join(dir, "a.csv")); err != nil {
		t.Fatal(err)
	}
	if err := h.next(t); err != nil || h.value.Load() != 7 {
		t.Fatalf("removed file: err=%v value=%d", err, h.value.Load())
	}
}

// A watch that cannot be set up (a directory gone, inotify limits reached)
// is logged, and SIGHUP still reloads: an exporter must never be left where
// the reload signal kills it.
func TestMissingDirectoryStillReloadsOnSIGHUP(t *testing.T) {
	guard := make(chan os.Signal, 4)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	path := filepath.Join(t.TempDir(), "value.txt")
	replace(t, path, "1")
	h := start(t, []string{"/nonexistent-minewatch/dir/file.yaml"}, readInt(path))
	if !strings.Contains(h.log.String(), "file changes are not watched, SIGHUP still reloads") ||
		!strings.Contains(h.log.String(), "/nonexistent-minewatch/dir") {
		t.Errorf("log does not say the watch failed:\n%s", h.log.String())
	}
	replace(t, path, "2")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := h.next(t); err != nil || h.value.Load() != 2 {
		t.Fatalf("SIGHUP without file watches: err=%v value=%d", err, h.value.Load())
	}
}
