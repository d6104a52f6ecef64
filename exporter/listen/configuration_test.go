package listen

import (
	"runtime"
	"testing"
)

// TestDefaultSplitScoring: a scorer goroutine per reader by default only
// where there is a second core for it.
func TestDefaultSplitScoring(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for procs, want := range map[int]bool{1: false, 2: true, 8: true} {
		runtime.GOMAXPROCS(procs)
		if got := DefaultConfiguration().SplitScoring; got != want {
			t.Errorf("GOMAXPROCS %d: split_scoring %v by default, want %v", procs, got, want)
		}
	}
}
