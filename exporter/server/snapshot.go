package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/intel"
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

// probedPath is where the probe decisions are kept: beside the state
// snapshot, in the exporter's state directory ("" without a snapshot file:
// nothing survives a restart then, as for the scores).
func probedPath(snapshotFile string) string {
	if snapshotFile == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(snapshotFile), intel.ProbedFileName)
}

// restoreProbed reads the probe decisions kept by the last run into the
// store (after the lists are loaded, so a list's word still wins). As with
// the snapshot, a file that cannot be read back is moved aside to
// path.refused and logged, and the exporter starts without it; the file is
// then written at once, so an unwritable state directory stops start-up.
func restoreProbed(store *intel.Store, path string, log *slog.Logger) error {
	if path == "" {
		return nil
	}
	kept, expired, listed, err := store.LoadProbed(path)
	switch {
	case err == nil:
		log.Info("probe decisions restored", "file", path, "kept", kept, "expired", expired, "dropped_listed_now", listed)
	case errors.Is(err, fs.ErrNotExist):
		log.Info("no probe decisions kept yet", "file", path)
	case errors.Is(err, intel.ErrProbedFile):
		aside := path + ".refused"
		if rerr := os.Rename(path, aside); rerr != nil {
			return fmt.Errorf("%v; moving it aside: %w", err, rerr)
		}
		log.Error("probe decisions refused, starting without them (file kept as "+aside+"): "+err.Error(), "file", path)
	default:
		return fmt.Errorf("probe decisions: %w", err)
	}
	if err := store.SaveProbed(path); err != nil {
		return fmt.Errorf("probe decisions file cannot be written: %w", err)
	}
	return nil
}

func saveProbed(store *intel.Store, path string, log *slog.Logger) error {
	if path == "" {
		return nil
	}
	if err := store.SaveProbed(path); err != nil {
		log.Error("saving the probe decisions failed; they are kept in memory and saved again at the next snapshot: "+err.Error(), "file", path)
		return err
	}
	return nil
}
