package probe

import (
	"net/netip"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/score"
)

type submitted []Target

func (s *submitted) SubmitTarget(t Target) bool { *s = append(*s, t); return true }

// TestFeed: what the engine's callbacks hand the prober. An unknown
// endpoint is probed bare as soon as its session looks like a pool's; a
// listed pool domain's shared address with the domain as SNI, and its
// suspect host is noted so that the confirmation flags that host; a refuted
// endpoint answers Refuted and is not probed again; a listed one is not probed.
func TestFeed(t *testing.T) {
	now := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	st := intel.NewStore(intel.Options{Now: func() time.Time { return now }})
	pools, err := intel.Parse("p.txt", []byte("pool.example.org,XMR\n198.51.100.7:3333,XMR\n"))
	if err != nil {
		t.Fatal(err)
	}
	cdn := netip.MustParseAddr("203.0.113.200")
	st.Set(intel.NewSet([]*intel.List{pools}, nil, map[string][]netip.Addr{"pool.example.org": {cdn}}))
	var got submitted
	f := &Feed{Store: st, Prober: &got, NoteFor: time.Hour, Now: func() time.Time { return now }}

	unknown := netip.MustParseAddrPort("198.51.100.20:8080")
	if got := f.Probed(netip.MustParseAddr("10.0.0.9"), unknown); got != score.Unprobed {
		t.Errorf("an unknown endpoint answers %v, want Unprobed (Wait 0: no waiting)", got)
	}
	shared := netip.AddrPortFrom(cdn, 443)
	host := netip.MustParseAddr("10.0.0.5")
	f.Suspect(host, shared)
	f.Suspect(host, netip.MustParseAddrPort("198.51.100.7:3333")) // listed: nothing to ask
	want := []Target{{Endpoint: unknown}, {Endpoint: shared, Name: "pool.example.org"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("submitted %v, want %v", got, want)
	}
	st.Confirm(shared, intel.Evidence{At: now, Protocol: "stratum", TLS: true, Name: "pool.example.org", Until: now.Add(time.Hour)})
	if e := st.Current().MatchHost(host, cdn, 443); e == nil || e.Shared {
		t.Errorf("the suspect's contact after the SNI confirmation: %+v", e)
	}
	if e := st.Current().MatchHost(netip.MustParseAddr("10.0.0.6"), cdn, 443); e == nil || !e.Shared {
		t.Errorf("another host's contact with the CDN address: %+v", e)
	}
	st.Refute(unknown, intel.Evidence{At: now, Until: now.Add(time.Hour)})
	got = nil
	if got := f.Probed(netip.MustParseAddr("10.0.0.9"), unknown); got != score.ProbeRefuted {
		t.Errorf("a refuted endpoint answers %v", got)
	}
	f.Suspect(host, shared) // decided: not asked again
	if len(got) != 0 {
		t.Errorf("decided endpoints submitted again: %v", got)
	}
}

// once takes each target the first time only, as the prober does while the
// target is queued or its outcome cached.
type once map[Target]bool

func (o once) SubmitTarget(t Target) bool {
	if o[t] {
		return false
	}
	o[t] = true
	return true
}

// TestFeedWaitsForTheAnswer: an endpoint handed to the prober is pending
// until the probe decides or Wait is over, then behaviour counts again (the
// prober, still holding the target, takes it no second time).
func TestFeedWaitsForTheAnswer(t *testing.T) {
	now := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	st := intel.NewStore(intel.Options{Now: func() time.Time { return now }})
	st.Set(intel.NewSet(nil, nil, nil))
	f := &Feed{Store: st, Prober: once{}, NoteFor: time.Hour, Wait: 2 * time.Minute, Now: func() time.Time { return now }}
	host := netip.MustParseAddr("10.0.0.5")
	ws, silent := netip.MustParseAddrPort("198.51.100.20:443"), netip.MustParseAddrPort("198.51.100.21:443")
	for _, ep := range []netip.AddrPort{ws, silent} {
		if got := f.Probed(host, ep); got != score.ProbePending {
			t.Fatalf("%v just handed over: %v, want ProbePending", ep, got)
		}
	}
	now = now.Add(30 * time.Second)
	st.Refute(ws, intel.Evidence{At: now, Until: now.Add(time.Hour)})
	if got := f.Probed(host, ws); got != score.ProbeRefuted {
		t.Errorf("refuted: %v", got)
	}
	if got := f.Probed(host, silent); got != score.ProbePending {
		t.Errorf("no answer within the wait: %v, want ProbePending", got)
	}
	now = now.Add(90 * time.Second)
	if got := f.Probed(host, silent); got != score.Unprobed {
		t.Errorf("no answer when the wait is over: %v, want Unprobed", got)
	}
	if got := f.Probed(host, silent); got != score.Unprobed {
		t.Errorf("asked again after the wait: %v, want Unprobed", got)
	}
}

// TestFeedNotesTheHostWhenItHandsOver: a young mining-like session to a
// listed pool domain's shared (CDN) address notes its host when the engine
// first asks (Probed), before the host is a suspect: the SNI confirmation
// then flags that host, and still no other host of the CDN address.
func TestFeedNotesTheHostWhenItHandsOver(t *testing.T) {
	now := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	st := intel.NewStore(intel.Options{Now: func() time.Time { return now }})
	pools, err := intel.Parse("p.txt", []byte("pool.example.org,XMR\n"))
	if err != nil {
		t.Fatal(err)
	}
	cdn := netip.MustParseAddr("203.0.113.200")
	st.Set(intel.NewSet([]*intel.List{pools}, nil, map[string][]netip.Addr{"pool.example.org": {cdn}}))
	var got submitted
	f := &Feed{Store: st, Prober: &got, NoteFor: time.Hour, Wait: 2 * time.Minute, Now: func() time.Time { return now }}
	shared := netip.AddrPortFrom(cdn, 443)
	miner, other := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("10.0.0.6")
	if s := f.Probed(miner, shared); s != score.ProbePending {
		t.Errorf("the CDN address with the domain, just handed over: %v", s)
	}
	if len(got) != 1 || got[0] != (Target{Endpoint: shared, Name: "pool.example.org"}) {
		t.Fatalf("submitted %v", got)
	}
	if until := st.Current().NotedUntil(miner, shared); !until.Equal(now.Add(time.Hour)) {
		t.Fatalf("the host is noted until %v, want %v", until, now.Add(time.Hour))
	}
	now = now.Add(10 * time.Second)
	st.Confirm(shared, intel.Evidence{At: now, Protocol: "stratum", TLS: true, Name: "pool.example.org", Until: now.Add(time.Hour)})
	if e := st.Current().MatchHost(miner, cdn, 443); e == nil || e.Shared || e.Probe == nil || e.Probe.Name != "pool.example.org" {
		t.Errorf("the host's contact after the SNI confirmation: %+v", e)
	}
	if e := st.Current().MatchHost(other, cdn, 443); e == nil || !e.Shared {
		t.Errorf("another host's contact with the CDN address: %+v", e)
	}
	// Asked at every evaluation: the note is renewed only after half of it.
	n := st.Current().NotedUntil(miner, shared)
	now = now.Add(20 * time.Minute)
	if s := f.Probed(miner, shared); s != score.Unprobed {
		t.Errorf("decided: %v", s)
	}
	if u := st.Current().NotedUntil(miner, shared); !u.Equal(n) {
		t.Errorf("note renewed after 20 min of an hour: %v → %v", n, u)
	}
	now = now.Add(20 * time.Minute)
	f.Probed(miner, shared)
	if u := st.Current().NotedUntil(miner, shared); !u.Equal(now.Add(time.Hour)) {
		t.Errorf("note not renewed after 40 min of an hour: %v", u)
	}
	if len(got) != 1 {
		t.Errorf("decided target submitted again: %v", got)
	}
}

// TestFeedConfirmedFlagsNotedHostsOnly wires the feed into a real engine
// (Hook): a host whose two sampled message-sized records on one connection
// to a listed domain's CDN address are ten minutes apart is noted there and
// the endpoint handed over; the SNI confirmation then flags it at the next
// evaluation, with no new record, and its pool contacts carry the probe's
// evidence. Another host of the CDN address (ordinary HTTPS, bulk records)
// is never noted nor flagged by the same confirmation.
func TestFeedConfirmedFlagsNotedHostsOnly(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	now := t0
	st := intel.NewStore(intel.Options{Now: func() time.Time { return now }})
	pools, err := intel.Parse("p.txt", []byte("pool.example.org,XMR\n"))
	if err != nil {
		t.Fatal(err)
	}
	cdn := netip.MustParseAddr("203.0.113.200")
	st.Set(intel.NewSet([]*intel.List{pools}, nil, map[string][]netip.Addr{"pool.example.org": {cdn}}))
	var got submitted
	f := &Feed{Store: st, Prober: &got, NoteFor: time.Hour, Wait: 2 * time.Minute, Now: func() time.Time { return now }}
	cfg := score.DefaultConfig()
	f.Hook(&cfg)
	if cfg.OnSuspect == nil || cfg.Probed == nil || cfg.Confirmed == nil {
		t.Fatal("Hook left a callback unset")
	}
	e := score.New(cfg)
	shared := netip.AddrPortFrom(cdn, 443)
	miner, other := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("10.0.0.6")
	rec := func(host netip.Addr, hport uint16, at time.Time, pkts, bytes uint64, out bool) {
		o := score.Observation{Host: host, Remote: cdn, HostPort: hport, RemotePort: 443, Proto: 6, TCPFlags: 0x18, Outbound: out,
			Start: at.UnixMilli(), End: at.UnixMilli() + 40, Packets: pkts, Bytes: bytes, SamplingRate: 100, Unit: "u1"}
		if m := st.Current().MatchHost(host, cdn, 443); m != nil { // as the pipeline does
			o.Intel = &score.IntelHit{Pool: m.Pool, Coin: m.Coin, Shared: m.Shared}
		}
		e.Observe(&o)
	}
	eval := func() { e.Evaluate(now.UnixMilli()) }
	rec(miner, 50000, now, 100, 100*180, true)
	rec(other, 51000, now, 100, 100*1400, false) // a page's bulk answer
	now = now.Add(12 * time.Minute)
	rec(other, 51002, now, 100, 100*1400, false)
	eval()
	if len(got) != 0 || !st.Current().NotedUntil(miner, shared).IsZero() {
		t.Fatalf("one record: submitted %v, noted until %v", got, st.Current().NotedUntil(miner, shared))
	}
	rec(miner, 50000, now, 100, 100*180, false)
	eval()
	if len(got) != 1 || got[0] != (Target{Endpoint: shared, Name: "pool.example.org"}) {
		t.Fatalf("two records on one connection 12 min apart: submitted %v", got)
	}
	if st.Current().NotedUntil(miner, shared).IsZero() || !st.Current().NotedUntil(other, shared).IsZero() {
		t.Fatal("the miner should be noted at the CDN address, the other host not")
	}
	if r := e.Report(miner); r.Mining || r.Suspect {
		t.Fatalf("before the answer: %+v", r)
	}
	now = now.Add(10 * time.Second)
	st.Confirm(shared, intel.Evidence{At: now, Protocol: "xmrig-login", TLS: true, Name: "pool.example.org", Until: now.Add(time.Hour)})
	eval()
	r := e.Report(miner)
	if !r.Mining {
		t.Fatalf("not flagged at the evaluation after the confirmation: %+v", r)
	}
	var evidence string
	var records uint64
	for _, pc := range r.PoolContacts {
		records += pc.Count
		if pc.Confirmed != "" {
			evidence = pc.Confirmed
		}
	}
	if evidence == "" || records != 2 {
		t.Fatalf("pool contacts %+v: want the probe's evidence and the 2 records seen", r.PoolContacts)
	}
	if o := e.Report(other); o == nil || o.Mining || o.Suspect {
		t.Fatalf("the other host of the CDN address: %+v", o)
	}
	t.Logf("flagged with %q", evidence)
}
