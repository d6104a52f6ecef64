package score

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A proxied miner (no intel: a suspect after minutes of Stratum profile) and
// a miner to a listed pool, saved and restored: the restored
// engine reports the same verdicts and reasons, and goes on exactly as the
// original when the same traffic continues.
func TestSnapshotRoundTrip(t *testing.T) {
	f := newFeed()
	rng := rand.New(rand.NewPCG(3, 4))
	hit := &IntelHit{Pool: "198.51.100.7:3333", Coin: "XMR"}
	f.stratum(rng, miner, proxy, 443, 50000, t0, t0+3*3600_000, nil, false)
	f.stratum(rng, office, pool, 3333, 40000, t0, t0+3*3600_000, hit, false)
	f.run(t0+2*3600_000, miner)
	before := f.e.Report(miner)
	if before == nil || !before.Suspect || before.SuspectSince == 0 || len(before.Reasons) == 0 {
		t.Fatalf("setup: proxied miner not a suspect: %+v", before)
	}
	if r := f.e.Report(office); r == nil || !r.Mining || r.FlaggedSince == 0 {
		t.Fatalf("setup: pool miner not flagged: %+v", r)
	}
	path := filepath.Join(t.TempDir(), "state.snap")
	size, err := f.e.SaveFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("snapshot file mode: %v %v, want 0600", st.Mode(), err)
	}
	t.Logf("snapshot of %d hosts: %d bytes", f.e.Stats().Hosts, size)

	g := New(DefaultConfig())
	n, err := g.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n != f.e.Stats().Hosts {
		t.Errorf("restored %d hosts, want %d", n, f.e.Stats().Hosts)
	}
	for _, h := range []struct {
		name string
		r, s *Report
	}{{"proxied miner", f.e.Report(miner), g.Report(miner)}, {"pool miner", f.e.Report(office), g.Report(office)}} {
		if !reflect.DeepEqual(h.r, h.s) {
			t.Errorf("%s after restore:\n got  %+v\n want %+v", h.name, h.s, h.r)
		}
	}
	if g.Stats() != f.e.Stats() {
		t.Errorf("stats after restore %+v, want %+v", g.Stats(), f.e.Stats())
	}

	// The same hour of traffic into both: the same state.
	rest := append([]Observation(nil), f.obs...)
	clock := f.clock
	f.run(t0+3*3600_000, miner)
	f2 := &feed{e: g, obs: rest, clock: clock}
	f2.run(t0+3*3600_000, miner)
	if a, b := f.e.Report(miner), g.Report(miner); !reflect.DeepEqual(a, b) {
		t.Errorf("an hour after restore the engines differ:\n restored %+v\n original %+v", b, a)
	}
}

// A refused snapshot leaves the engine empty and says why.
func TestSnapshotRefused(t *testing.T) {
	f := newFeed()
	rng := rand.New(rand.NewPCG(1, 2))
	f.stratum(rng, miner, pool, 3333, 49152, t0, t0+600_000, &IntelHit{Pool: "198.51.100.7:3333", Coin: "XMR"}, false)
	f.run(t0+600_000, miner)
	dir := t.TempDir()
	path := filepath.Join(dir, "state.snap")
	if _, err := f.e.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := func(name string, mod func([]byte) []byte, want string) {
		b := mod(append([]byte(nil), good...))
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		e := New(DefaultConfig())
		n, err := e.LoadFile(p)
		if !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want ErrSnapshot with %q", name, err, want)
		}
		if n != 0 || e.Stats().Hosts != 0 {
			t.Errorf("%s: %d hosts restored from a refused snapshot", name, e.Stats().Hosts)
		}
	}
	bad("version", func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 99); return b }, "format version 99, this exporter reads version 1")
	bad("flipped", func(b []byte) []byte { b[len(b)-5] ^= 0x40; return b }, "")
	bad("truncated", func(b []byte) []byte { return b[:len(b)/2] }, "")
	bad("not ours", func(b []byte) []byte { return []byte("units: []\n" + strings.Repeat(" ", 40)) }, "is not a minewatch state snapshot")
	bad("huge", func(b []byte) []byte { binary.BigEndian.PutUint64(b[12:], 1<<62); return b }, "exceeds the bound")

	if _, err := New(DefaultConfig()).LoadFile(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing snapshot: %v, want fs.ErrNotExist", err)
	}
}

// With HoldCounters the exported pool counts only ever show what a snapshot
// holds, so a restore after kill -9 never shows a smaller count than was
// exported before.
func TestHeldCountersNeverGoBack(t *testing.T) {
	f := newFeed()
	f.e.HoldCounters()
	rng := rand.New(rand.NewPCG(7, 8))
	hit := &IntelHit{Pool: "198.51.100.7:3333", Coin: "XMR"}
	f.stratum(rng, miner, pool, 3333, 49152, t0, t0+3600_000, hit, false)
	count := func(e *Engine) uint64 {
		r := e.Report(miner)
		if r == nil || len(r.PoolContacts) != 1 {
			t.Fatalf("no pool contact: %+v", r)
		}
		return r.PoolContacts[0].Count
	}
	f.run(t0+1200_000, miner)
	if c := count(f.e); c != 0 {
		t.Errorf("before any snapshot: exported %d, want 0", c)
	}
	path := filepath.Join(t.TempDir(), "state.snap")
	if _, err := f.e.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	atSave := count(f.e)
	if atSave == 0 {
		t.Fatal("snapshot did not publish the counts")
	}
	f.run(t0+2400_000, miner) // more contacts, no snapshot: the export holds
	if c := count(f.e); c != atSave {
		t.Errorf("between snapshots exported %d, want the saved %d", c, atSave)
	}
	g := New(DefaultConfig()) // kill -9: the new process restores the last snapshot
	g.HoldCounters()
	if _, err := g.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if c := count(g); c != atSave {
		t.Errorf("after restore exported %d, want %d (never below what was exported)", c, atSave)
	}
}
