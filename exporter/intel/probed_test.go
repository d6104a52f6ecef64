package intel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
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

// TestProbeName: an unknown endpoint is probed bare; the shared address a
// listed pool domain resolves to is probed with the domain as SNI, until that
// probe decided; a refuted endpoint is not probed again.
func TestProbeName(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)}
	s := NewStore(Options{Now: clock.Now})
	pools, err := Parse("p.txt", []byte("pool.example.org,XMR\n"))
	if err != nil {
		t.Fatal(err)
	}
	cdn := netip.MustParseAddr("203.0.113.200")
	s.Set(NewSet([]*List{pools}, nil, map[string][]netip.Addr{"pool.example.org": {cdn}}))
	unknown := netip.MustParseAddrPort("198.51.100.20:14444")
	if name, ok := s.Current().ProbeName(unknown.Addr(), unknown.Port()); !ok || name != "" {
		t.Errorf("an unknown endpoint: name %q ok %v, want a bare probe", name, ok)
	}
	if e := s.Current().Match(cdn, 443); e == nil || !e.Shared {
		t.Fatalf("the pool domain's address does not match as shared: %+v", e)
	}
	if name, ok := s.Current().ProbeName(cdn, 443); !ok || name != "pool.example.org" {
		t.Errorf("a pool domain's shared address: name %q ok %v, want a probe with SNI pool.example.org", name, ok)
	}
	ev := Evidence{At: clock.Now(), Protocol: "stratum", Excerpt: "HTTP/1.1 400", Until: clock.Now().Add(time.Hour)}
	s.Refute(unknown, ev)
	if _, ok := s.Current().ProbeName(unknown.Addr(), unknown.Port()); ok {
		t.Error("a refuted endpoint is probed again")
	}
	ev.Name = "pool.example.org"
	s.Refute(netip.AddrPortFrom(cdn, 443), ev)
	if _, ok := s.Current().ProbeName(cdn, 443); ok {
		t.Error("the domain refuted at the shared address is probed again")
	}
	if s.Current().Allowed(cdn, 443) {
		t.Error("a refutation of one name at the shared address allowlists the address for every name")
	}
}

// TestSNIConfirmationIsScoped: a confirmation of a listed domain at its
// shared (CDN) address flags the hosts whose mining-like session went there
// (Suspect), and no other host, and never makes the bare address a pool.
func TestSNIConfirmationIsScoped(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)}
	s := NewStore(Options{Now: clock.Now})
	pools, err := Parse("p.txt", []byte("pool.example.org,XMR\n"))
	if err != nil {
		t.Fatal(err)
	}
	cdn := netip.MustParseAddr("203.0.113.200")
	ep := netip.AddrPortFrom(cdn, 443)
	s.Set(NewSet([]*List{pools}, nil, map[string][]netip.Addr{"pool.example.org": {cdn}}))
	miner, browser := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("10.0.0.6")
	s.Suspect(miner, ep, clock.Now().Add(2*time.Hour))
	s.Suspect(miner, netip.MustParseAddrPort("198.51.100.1:443"), clock.Now().Add(2*time.Hour)) // not a shared address: ignored
	if e := s.Current().MatchHost(miner, cdn, 443); e == nil || !e.Shared {
		t.Fatalf("before any confirmation the miner's contact is %+v, want the shared entry", e)
	}
	ev := Evidence{At: clock.Now(), Protocol: "cryptonote", TLS: true, Excerpt: `{"id":1,"jsonrpc":"2.0","result":{"job"`,
		Until: clock.Now().Add(24 * time.Hour), Name: "pool.example.org"}
	s.Confirm(ep, ev)
	e := s.Current().MatchHost(miner, cdn, 443)
	if e == nil || e.Shared || e.Kind != KindConfirmed || e.Domain() != "pool.example.org" || e.Probe == nil || e.Probe.Name != "pool.example.org" {
		t.Fatalf("the suspect's contact after the SNI confirmation: %+v", e)
	}
	if e.Pool != "pool.example.org @ 203.0.113.200:443" || !strings.Contains(e.Probe.How(), "cryptonote over TLS (SNI pool.example.org) at ") {
		t.Errorf("pool shown as %q, evidence %q", e.Pool, e.Probe.How())
	}
	if e := s.Current().MatchHost(browser, cdn, 443); e == nil || !e.Shared {
		t.Errorf("another host's contact with the CDN address: %+v, want the shared entry only", e)
	}
	if e := s.Current().Match(cdn, 443); e == nil || !e.Shared {
		t.Errorf("the bare CDN address became %+v", e)
	}
	if s.Current().Confirmed(ep) != nil {
		t.Error("the bare address is confirmed")
	}
	if e := s.Current().MatchHost(miner, cdn, 80); e == nil || !e.Shared {
		t.Errorf("another port of the CDN address for the miner: %+v", e)
	}
	clock.Add(3 * time.Hour) // the host's note expires; the confirmation holds
	s.Prune()
	if e := s.Current().MatchHost(miner, cdn, 443); e == nil || !e.Shared {
		t.Errorf("after the note expired: %+v", e)
	}
	if s.Current().ConfirmedName(ep, "pool.example.org") == nil {
		t.Error("the confirmation went with the note")
	}
	s.Suspect(miner, ep, clock.Now().Add(time.Hour)) // suspect again: the cached confirmation flags it at once
	if e := s.Current().MatchHost(miner, cdn, 443); e == nil || e.Shared {
		t.Errorf("a suspect again after the confirmation: %+v", e)
	}
}

// TestPoolConfirmedSeries: each confirmed endpoint (bare or with its SNI
// name) is one minewatch_pool_confirmed series whose value is its first
// confirmation, kept across a re-confirmation, gone when it expires.
func TestPoolConfirmedSeries(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)}
	s := NewStore(Options{Now: clock.Now})
	first := clock.Now()
	bare := netip.MustParseAddrPort("198.51.100.77:3333")
	cdn := netip.MustParseAddrPort("203.0.113.77:443")
	s.Confirm(bare, Evidence{At: first, Protocol: "stratum", Until: first.Add(time.Hour)})
	s.Confirm(cdn, Evidence{At: first, Protocol: "cryptonote", TLS: true, Name: "pool.example.org", Until: first.Add(time.Hour)})
	clock.Add(30 * time.Minute)
	s.Confirm(bare, Evidence{At: clock.Now(), Protocol: "stratum", Until: clock.Now().Add(time.Hour)}) // re-confirmed later
	scrape := func() string {
		var b bytes.Buffer
		metrics.WritePrometheus(&b, false)
		return b.String()
	}
	out := scrape()
	for _, want := range []string{
		fmt.Sprintf(`minewatch_pool_confirmed{endpoint="198.51.100.77:3333",domain="",protocol="stratum",tls="false"} %d`, first.Unix()),
		fmt.Sprintf(`minewatch_pool_confirmed{endpoint="203.0.113.77:443",domain="pool.example.org",protocol="cryptonote",tls="true"} %d`, first.Unix()),
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
	clock.Add(45 * time.Minute) // the CDN confirmation expires, the bare one holds
	s.Prune()
	out = scrape()
	if strings.Contains(out, `endpoint="203.0.113.77:443"`) {
		t.Error("an expired confirmation is still a series")
	}
	if !strings.Contains(out, `endpoint="198.51.100.77:3333"`) {
		t.Error("the live confirmation's series went")
	}
}

// TestProbedFileRoundTrip: SaveProbed then LoadProbed into a new store
// gives back the bare and the named decisions with their evidence, the
// first confirmation and the host noted at the shared address; expired ones
// are counted, not kept; a file of another version is refused.
func TestProbedFileRoundTrip(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)}
	pools, err := Parse("p.txt", []byte("pool.example.org,XMR\n"))
	if err != nil {
		t.Fatal(err)
	}
	cdn := netip.MustParseAddr("203.0.113.200")
	set := NewSet([]*List{pools}, nil, map[string][]netip.Addr{"pool.example.org": {cdn}})
	a := NewStore(Options{Now: clock.Now})
	a.Set(set)
	shared := netip.AddrPortFrom(cdn, 443)
	miner := netip.MustParseAddr("10.0.0.5")
	bare := netip.MustParseAddrPort("198.51.100.7:3333")
	a.Suspect(miner, shared, clock.Now().Add(24*time.Hour))
	a.Confirm(shared, Evidence{At: clock.Now(), Protocol: "cryptonote", TLS: true, Name: "pool.example.org", Excerpt: "job", Until: clock.Now().Add(48 * time.Hour)})
	a.Confirm(bare, Evidence{At: clock.Now(), Protocol: "stratum", Coin: "XMR", Until: clock.Now().Add(time.Hour)})
	a.Refute(netip.MustParseAddrPort("198.51.100.8:443"), Evidence{At: clock.Now(), Excerpt: "HTTP", Until: clock.Now().Add(2 * time.Hour)})
	path := filepath.Join(t.TempDir(), ProbedFileName)
	if err := a.SaveProbed(path); err != nil {
		t.Fatal(err)
	}
	clock.Add(90 * time.Minute) // the bare confirmation expires meanwhile
	b := NewStore(Options{Now: clock.Now})
	b.Set(set)
	kept, expired, listed, err := b.LoadProbed(path)
	if err != nil || kept != 2 || expired != 1 || listed != 0 {
		t.Fatalf("kept %d expired %d listed %d err %v", kept, expired, listed, err)
	}
	c := b.Current().ConfirmedName(shared, "pool.example.org")
	if c == nil || c.Probe.Protocol != "cryptonote" || !c.Probe.TLS || c.Probe.First.IsZero() || c.Domain() != "pool.example.org" {
		t.Fatalf("named confirmation back as %+v", c)
	}
	if e := b.Current().MatchHost(miner, cdn, 443); e == nil || e.Shared {
		t.Errorf("the noted host's contact after the reload: %+v", e)
	}
	if b.Current().Confirmed(bare) != nil {
		t.Error("an expired confirmation came back")
	}
	if !b.Current().Allowed(netip.MustParseAddr("198.51.100.8"), 443) {
		t.Error("the refutation did not come back")
	}
	if err := os.WriteFile(path, []byte(`{"version":2,"decisions":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := NewStore(Options{}).LoadProbed(path); !errors.Is(err, ErrProbedFile) {
		t.Errorf("another version: %v", err)
	}
}
