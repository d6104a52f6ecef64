package intel

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a wall clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestConfirmJoinsTheIntel(t *testing.T) {
	dir := t.TempDir()
	pools := filepath.Join(dir, "probe-pools.txt")
	writeFile(t, pools, "192.0.2.10,XMR,bureau\npool.example.org,XMR,bureau\n")
	res := &fakeResolver{addrs: map[string][]netip.Addr{}}
	res.set("pool.example.org", "203.0.113.200")
	clock := &fakeClock{t: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)}
	s := NewStore(Options{Lists: []string{pools}, Resolver: res, Now: clock.Now})
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	if err := s.Resolve(context.Background()); err != nil {
		t.Fatal(err)
	}

	unlisted := netip.MustParseAddrPort("198.51.100.7:14444")
	if s.Current().Match(unlisted.Addr(), unlisted.Port()) != nil {
		t.Fatal("unlisted endpoint matched before any probe")
	}
	ev := Evidence{At: clock.Now(), Protocol: "stratum", TLS: true, Excerpt: `{"id":1,"result":[`, Until: clock.Now().Add(24 * time.Hour)}
	s.Confirm(unlisted, ev)
	e := s.Current().Match(unlisted.Addr(), unlisted.Port())
	if e == nil || e.Kind != KindConfirmed || e.Source != SourceConfirmed || e.Kind.String() != "confirmed" || e.Shared ||
		e.Pool != "198.51.100.7:14444" || e.Probe == nil || !e.Probe.TLS || e.Probe.Protocol != "stratum" {
		t.Fatalf("confirmed match = %+v", e)
	}
	if got := e.Probe.How(); got != "stratum over TLS at 2026-12-01 22:00:00 CST" {
		t.Errorf("How = %q", got)
	}
	// Only that port: a confirmed pool port says nothing of the host's other ports.
	if s.Current().Match(unlisted.Addr(), 443) != nil {
		t.Error("confirmed endpoint matched another port")
	}
	// An IPv4-mapped address is the same endpoint.
	if s.Current().Match(netip.MustParseAddr("::ffff:198.51.100.7"), 14444) == nil {
		t.Error("v4-mapped address missed the confirmed endpoint")
	}

	// A reload of the lists keeps what probes decided.
	writeFile(t, pools, "192.0.2.10,XMR,bureau\npool.example.org,XMR,bureau\n192.0.2.12\n")
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	if e := s.Current().Match(unlisted.Addr(), unlisted.Port()); e == nil || e.Kind != KindConfirmed {
		t.Fatalf("after reload: %+v", e)
	}
	if !strings.Contains(metricsText(), `minewatch_intel_entries{list="probe",kind="confirmed"} 1`) {
		t.Error("confirmed count not in minewatch_intel_entries")
	}

	// A listed entry beats the probe's; a Shared (resolved) one does not.
	listed := netip.MustParseAddrPort("192.0.2.10:3333")
	s.Confirm(listed, ev)
	if e := s.Current().Match(listed.Addr(), listed.Port()); e == nil || e.Kind != KindIP || e.Source != "bureau" {
		t.Errorf("listed endpoint, also confirmed: %+v", e)
	}
	shared := netip.MustParseAddrPort("203.0.113.200:443")
	if e := s.Current().Match(shared.Addr(), shared.Port()); e == nil || !e.Shared {
		t.Fatalf("shared: %+v", e)
	}
	s.Confirm(shared, ev)
	if e := s.Current().Match(shared.Addr(), shared.Port()); e == nil || e.Shared || e.Kind != KindConfirmed {
		t.Errorf("shared address a probe confirmed: %+v", e)
	}

	confirmed, refuted := s.Probed()
	if len(confirmed) != 3 || len(refuted) != 0 {
		t.Errorf("Probed = %d confirmed, %d refuted", len(confirmed), len(refuted))
	}

	// Expiry: past Until, Prune forgets it.
	clock.Add(25 * time.Hour)
	s.Prune()
	if s.Current().Match(unlisted.Addr(), unlisted.Port()) != nil {
		t.Error("confirmation outlived its Until")
	}
	if !strings.Contains(metricsText(), `minewatch_intel_entries{list="probe",kind="confirmed"} 0`) {
		t.Error("confirmed count did not fall to 0")
	}
}

func TestRefuteStopsSuspects(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)}
	s := NewStore(Options{Now: clock.Now})
	pools, err := Parse("p.txt", []byte("192.0.2.10,XMR\n"))
	if err != nil {
		t.Fatal(err)
	}
	s.Set(NewSet([]*List{pools}, nil, nil))

	ws := netip.MustParseAddrPort("198.51.100.20:443")
	if s.Current().Allowed(ws.Addr(), ws.Port()) {
		t.Fatal("allowed before refutation")
	}
	at := clock.Now()
	s.Refute(ws, Evidence{At: at, Protocol: "stratum", TLS: true, Excerpt: "HTTP/1.1 400 Bad Request", Until: at.Add(time.Hour)})
	if !s.Current().Allowed(ws.Addr(), ws.Port()) {
		t.Error("a refuted endpoint still counts (Allowed false)")
	}
	if e := s.Current().Refuted(ws); e == nil || e.Kind != KindRefuted || e.Probe.Excerpt != "HTTP/1.1 400 Bad Request" {
		t.Errorf("Refuted = %+v", e)
	}
	if s.Current().Match(ws.Addr(), ws.Port()) != nil {
		t.Error("a refuted endpoint matches as a pool")
	}
	// A listed pool is never refuted: the list is the bureau's word.
	listed := netip.MustParseAddrPort("192.0.2.10:3333")
	s.Refute(listed, Evidence{At: at, Until: at.Add(time.Hour)})
	if s.Current().Allowed(listed.Addr(), listed.Port()) || s.Current().Match(listed.Addr(), listed.Port()) == nil {
		t.Error("a listed pool was refuted")
	}
	// A later confirmation replaces the refutation; an older refutation does not undo it.
	s.Confirm(ws, Evidence{At: at.Add(time.Minute), Protocol: "cryptonote", Until: at.Add(time.Hour)})
	if s.Current().Allowed(ws.Addr(), ws.Port()) || s.Current().Match(ws.Addr(), ws.Port()) == nil {
		t.Error("confirmation did not replace the refutation")
	}
	s.Refute(ws, Evidence{At: at, Until: at.Add(time.Hour)})
	if s.Current().Match(ws.Addr(), ws.Port()) == nil {
		t.Error("an older refutation undid a confirmation")
	}
	// Decisions already stale are not kept.
	other := netip.MustParseAddrPort("198.51.100.21:443")
	s.Refute(other, Evidence{At: at, Until: at})
	if s.Current().Refuted(other) != nil {
		t.Error("stale refutation kept")
	}
	// Refutations expire.
	s.Refute(other, Evidence{At: at, Until: at.Add(time.Minute)})
	clock.Add(2 * time.Minute)
	s.Prune()
	if s.Current().Allowed(other.Addr(), other.Port()) {
		t.Error("refutation outlived its Until")
	}
}

func TestProbedIsBounded(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)}
	s := NewStore(Options{Now: clock.Now, MaxProbed: 10})
	at := clock.Now()
	for i := range 6 {
		s.Confirm(netip.MustParseAddrPort(fmt.Sprintf("198.51.100.%d:3333", i+1)), Evidence{At: at.Add(time.Duration(i) * time.Second)})
	}
	for i := range 8 {
		s.Refute(netip.MustParseAddrPort(fmt.Sprintf("203.0.113.%d:443", i+1)), Evidence{At: at.Add(time.Duration(i) * time.Second)})
	}
	confirmed, refuted := s.Probed()
	if len(confirmed)+len(refuted) != 10 || len(confirmed) != 6 {
		t.Fatalf("held %d confirmed + %d refuted, want 6 + 4", len(confirmed), len(refuted))
	}
	// The oldest refutations went first; the newest stay.
	if s.Current().Refuted(netip.MustParseAddrPort("203.0.113.1:443")) != nil || s.Current().Refuted(netip.MustParseAddrPort("203.0.113.8:443")) == nil {
		t.Error("bound did not drop the oldest refutations")
	}
	// Past the bound with confirmations only, the oldest confirmation goes.
	for i := range 10 {
		s.Confirm(netip.MustParseAddrPort(fmt.Sprintf("192.0.2.%d:4444", i+1)), Evidence{At: at.Add(time.Hour + time.Duration(i)*time.Second)})
	}
	confirmed, refuted = s.Probed()
	if len(confirmed) != 10 || len(refuted) != 0 || confirmed[0].Pool != "192.0.2.10:4444" {
		t.Errorf("held %d confirmed + %d refuted (newest %v)", len(confirmed), len(refuted), confirmed[0].Pool)
	}
}

// TestProbeable: an unknown endpoint may be probed; a refuted one, or the
// shared address a listed pool domain resolves to, may not.
func TestProbeable(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)}
	s := NewStore(Options{Now: clock.Now})
	pools, err := Parse("p.txt", []byte("pool.example.org,XMR\n"))
	if err != nil {
		t.Fatal(err)
	}
	cdn := netip.MustParseAddr("203.0.113.200")
	s.Set(NewSet([]*List{pools}, nil, map[string][]netip.Addr{"pool.example.org": {cdn}}))
	unknown := netip.MustParseAddrPort("198.51.100.20:14444")
	if !s.Current().Probeable(unknown.Addr(), unknown.Port()) {
		t.Error("an unknown endpoint is not probeable")
	}
	if e := s.Current().Match(cdn, 443); e == nil || !e.Shared {
		t.Fatalf("the pool domain's address does not match as shared: %+v", e)
	}
	if s.Current().Probeable(cdn, 443) {
		t.Error("a pool domain's shared address is probeable")
	}
	s.Refute(unknown, Evidence{At: clock.Now(), Protocol: "stratum", Excerpt: "HTTP/1.1 400", Until: clock.Now().Add(time.Hour)})
	if s.Current().Probeable(unknown.Addr(), unknown.Port()) {
		t.Error("a refuted endpoint is probeable again")
	}
}
