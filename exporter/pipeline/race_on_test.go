//go:build race

package pipeline

// raceEnabled: built with -race, where sync.Pool drops a share of what is
// put back on purpose, so allocation counts say nothing.
const raceEnabled = true
