package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/exporter/score"
)

var (
	snapshotLast     = metrics.NewGauge(names.SnapshotLastSuccess, nil)
	snapshotBytes    = metrics.NewGauge(names.SnapshotBytes, nil)
	snapshotFailures = metrics.NewCounter(names.SnapshotFailures)
	stateRestored    = metrics.NewGauge(names.StateRestoredHosts, nil)
)

// restoreState reads the last snapshot into the empty engine. A missing file
// is a first start; a refused one (corrupt, other format version) is moved
// aside to path.refused, logged, and the exporter starts empty rather than not
// at all. A first snapshot is written at once, so a path that cannot be
// written stops start-up instead of losing the evidence later.
func restoreState(e *score.Engine, path string, log *slog.Logger) error {
	if path == "" {
		return nil
	}
	e.HoldCounters()
	n, err := e.LoadFile(path)
	switch {
	case err == nil:
		stateRestored.Set(float64(n))
		log.Info("state restored from snapshot", "file", path, "hosts", n)
	case errors.Is(err, fs.ErrNotExist):
		log.Info("no state snapshot yet: starting empty", "file", path)
	case errors.Is(err, score.ErrSnapshot):
		aside := path + ".refused"
		if rerr := os.Rename(path, aside); rerr != nil {
			return fmt.Errorf("%v; moving it aside: %w", err, rerr)
		}
		log.Error("state snapshot refused, starting with empty state (file kept as "+aside+"): "+err.Error(), "file", path)
	default:
		return fmt.Errorf("state snapshot: %w", err)
	}
	if _, err := e.SaveFile(path); err != nil {
		return fmt.Errorf("snapshot.file cannot be written: %w", err)
	}
	return nil
}

func saveState(e *score.Engine, path string, log *slog.Logger) error {
	size, err := e.SaveFile(path)
	if err != nil {
		snapshotFailures.Inc()
		log.Error("state snapshot failed; pool counters stay at the last saved counts: "+err.Error(), "file", path)
		return err
	}
	snapshotLast.Set(float64(time.Now().UnixMilli()) / 1000)
	snapshotBytes.Set(float64(size))
	log.Debug("state snapshot written", "file", path, "bytes", size)
	return nil
}
