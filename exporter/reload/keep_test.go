package reload_test

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/reload"
)

func save(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func watch(t *testing.T, name string, paths []string, load func() error) chan error {
	t.Helper()
	results := make(chan error, 8)
	w := &reload.Watcher{Name: name, Paths: paths, Load: load, NoSignal: true, Debounce: 100 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), OnLoad: func(err error) { results <- err }}
	ready := make(chan struct{})
	w.OnReady = func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	var runErr error
	done := make(chan struct{})
	go func() { runErr = w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case <-done:
		t.Fatalf("watcher stopped before it was ready: %v", runErr)
	}
	return results
}

func next(t *testing.T, results chan error) error {
	t.Helper()
	select {
	case err := <-results:
		return err
	case <-time.After(3 * time.Second):
		t.Fatal("no reload within 3s")
		return nil
	}
}

// The exporter's use: a bad ledger edit is refused with the line to fix,
// and lookups keep answering from the last good ledger.
func TestLedgerKeepsLastGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.yaml")
	good := "units:\n  - {id: no1, name: 第一中学, sector: school, cidrs: [10.20.0.0/16]}\n"
	save(t, path, good)
	var cur atomic.Pointer[ledger.Ledger]
	load := func() error {
		l, err := ledger.Load([]string{path}, nil)
		if err != nil {
			return err
		}
		cur.Store(l)
		return nil
	}
	if err := load(); err != nil {
		t.Fatal(err)
	}
	results := watch(t, "ledger", []string{path}, load)
	unitOf := func(ip string) string {
		if u, _ := cur.Load().Classify(netip.MustParseAddr(ip)); u != nil {
			return u.ID
		}
		return ""
	}

	save(t, path, good+"  - {id: no2, name: 第二中学, sector: school, cidrs: [10.20.128.0/17]}\n")
	err := next(t, results)
	if err == nil || !strings.Contains(err.Error(), `ledger.yaml:3: units[1].cidrs[0]: 10.20.128.0/17 overlaps 10.20.0.0/16 of unit "no1"`) {
		t.Fatalf("overlap: %v", err)
	}
	if unitOf("10.20.200.1") != "no1" {
		t.Error("the bad ledger replaced the good one")
	}

	save(t, path, good+"  - {id: no2, name: 第二中学, sector: school, cidrs: [10.21.0.0/16]}\n")
	if err := next(t, results); err != nil {
		t.Fatal(err)
	}
	if unitOf("10.21.0.1") != "no2" {
		t.Error("the fixed ledger did not go live")
	}
}

func TestIntelKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pools.txt")
	save(t, path, "192.0.2.10,XMR\n")
	store := intel.NewStore(intel.Options{Lists: []string{path}})
	if err := store.Load(); err != nil {
		t.Fatal(err)
	}
	results := watch(t, "intel", store.Files(), store.Load)
	listed := func(ip string) bool { return store.Current().Match(netip.MustParseAddr(ip), 3333) != nil }

	save(t, path, "192.0.2.10,XMR\n192.0.2.11,XMR\n999.1.1.1\n")
	err := next(t, results)
	if err == nil || !strings.Contains(err.Error(), `pools.txt:3: "999.1.1.1" is neither an IP, a CIDR, IP:port nor a domain`) {
		t.Fatalf("junk: %v", err)
	}
	if !listed("192.0.2.10") || listed("192.0.2.11") {
		t.Error("the junk list replaced the good one")
	}
	save(t, path, "192.0.2.10,XMR\n192.0.2.11,XMR\n")
	if err := next(t, results); err != nil {
		t.Fatal(err)
	}
	if !listed("192.0.2.11") {
		t.Error("the fixed list did not go live")
	}
}
