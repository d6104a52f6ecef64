package score

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/names"
)

var t0 = time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC).UnixMilli()

// feed plays observations in time order through an engine, evaluating every
// 10 s of flow time as the pipeline does, and returns the first flag time.
type feed struct {
	e     *Engine
	obs   []Observation
	ticks int64
	clock int64 // last evaluation: a later run goes on from there
	// suspected is when the ip run watches was first a suspect (0: never).
	suspected int64
}

func newFeed() *feed { return &feed{e: New(DefaultConfig())} }

func (f *feed) add(o Observation) { f.obs = append(f.obs, o) }

// run plays everything up to `until` and returns when ip was first flagged (0: never).
func (f *feed) run(until int64, ip netip.Addr) (flagged int64) {
	sortObs(f.obs)
	next := t0
	i := 0
	start := t0
	if f.clock != 0 {
		start = f.clock + 10_000
	}
	for now := start; now <= until; now += 10_000 {
		f.clock = now
		for i < len(f.obs) && f.obs[i].End <= now {
			f.e.Observe(&f.obs[i])
			i++
		}
		if now >= next {
			f.e.Evaluate(now)
			r := f.e.Report(ip)
			if flagged == 0 && r != nil && r.Mining {
				flagged = now
			}
			if f.suspected == 0 && r != nil && r.Suspect {
				f.suspected = now
			}
		}
	}
	f.obs = f.obs[i:]
	return flagged
}

func sortObs(o []Observation) {
	sort.SliceStable(o, func(i, j int) bool { return o[i].End < o[j].End })
}

var (
	miner  = netip.MustParseAddr("10.20.3.21")
	pool   = netip.MustParseAddr("198.51.100.7")
	proxy  = netip.MustParseAddr("203.0.113.9")
	office = netip.MustParseAddr("10.20.8.8")
)

// stratum adds an XMRig-like session as a router with a 15 s inactive
// timeout exports it: every job push (every 30–90 s) and share (every
// 10–40 s) is its own pair of small records.
func (f *feed) stratum(rng *rand.Rand, host, remote netip.Addr, rport, hport uint16, from, to int64, intel *IntelHit, research bool) {
	mk := func(start int64, out bool, pkts, bytes uint64, flags uint8) {
		o := Observation{Host: host, Remote: remote, HostPort: hport, RemotePort: rport, Proto: 6, TCPFlags: flags,
			Outbound: out, Start: start, End: start + 40, Packets: pkts, Bytes: bytes, SamplingRate: 1, Unit: "u1",
			Research: research, Intel: intel}
		f.add(o)
	}
	for t := from; t < to; {
		if rng.IntN(3) == 0 { // job push from the pool, acked
			mk(t, false, 1, 52+380+uint64(rng.IntN(80)), 0x18)
			mk(t+20, true, 1, 52, 0x10)
		} else { // share submitted, result returned
			mk(t, true, 1, 52+180+uint64(rng.IntN(40)), 0x18)
			mk(t+30, false, 2, 52+70+52, 0x18)
		}
		t += int64(10_000 + rng.IntN(50_000))
	}
}

func TestListedPoolFlagsQuicklyWithReasons(t *testing.T) {
	f := newFeed()
	rng := rand.New(rand.NewPCG(1, 2))
	f.stratum(rng, miner, pool, 3333, 49152, t0, t0+3600_000, &IntelHit{Pool: "198.51.100.7:3333", Coin: "XMR"}, false)
	flagged := f.run(t0+3600_000, miner)
	if flagged == 0 || flagged-t0 > 2*60_000 {
		t.Fatalf("miner to a listed pool flagged after %v, want within 2 min", time.Duration(flagged-t0)*time.Millisecond)
	}
	r := f.e.Report(miner)
	sig := signals(r)
	for _, s := range []string{"pool_contact", "stratum_profile", "periodicity", "port_hint"} {
		if sig[s] <= 0 {
			t.Errorf("reason %s missing: %+v", s, r.Reasons)
		}
	}
	if r.Machines != 1 || len(r.PoolContacts) != 1 || r.PoolContacts[0].Count == 0 || r.Score < 90 {
		t.Errorf("report %+v", r)
	}
}

func signals(r *Report) map[string]float64 {
	m := map[string]float64{}
	for _, x := range r.Reasons {
		m[x.Signal] = x.Points
	}
	return m
}

// Without intel, behaviour alone makes the host a suspect within minutes,
// never a mining IP (two stages, issue 14): it is handed to the prober, and
// once the prober has confirmed the endpoint (a confirmed intel entry) the
// host is flagged at the next evaluation. Before the suspect stage this
// miner was flagged after about an hour on behaviour alone; a WebSocket
// client with the same profile was flagged the same way.
func TestProxiedTLSMinerIsSuspectUntilConfirmed(t *testing.T) {
	var asked []Suspicion
	cfg := DefaultConfig()
	cfg.OnSuspect = func(h netip.Addr, r netip.AddrPort) { asked = append(asked, Suspicion{h, r}) }
	f := &feed{e: New(cfg)}
	rng := rand.New(rand.NewPCG(3, 4))
	f.stratum(rng, miner, proxy, 443, 50000, t0, t0+4*3600_000, nil, false)
	suspect := int64(0)
	for now := t0; now <= t0+2*3600_000; now += 60_000 {
		if flagged := f.run(now, miner); flagged != 0 {
			t.Fatalf("flagged on behaviour alone at +%v", time.Duration(flagged-t0)*time.Millisecond)
		}
		if r := f.e.Report(miner); suspect == 0 && r != nil && r.Suspect {
			suspect = now
		}
	}
	if suspect == 0 || suspect-t0 > 10*60_000 {
		t.Fatalf("suspect after %v, want within 10 min", time.Duration(suspect-t0)*time.Millisecond)
	}
	r := f.e.Report(miner)
	if sig := signals(r); sig["pool_contact"] != 0 || sig["stratum_profile"] == 0 || !r.Suspect || r.Mining || r.SuspectSince == 0 || r.Machines != 0 {
		t.Errorf("suspect report %+v", r)
	}
	want := Suspicion{miner, netip.AddrPortFrom(proxy, 443)}
	if len(asked) == 0 || asked[0] != want {
		t.Fatalf("prober asked %v, want %v first", asked, want)
	}
	// Asked again only after suspectReask: two hours give at most three asks.
	if len(asked) > 3 {
		t.Errorf("prober asked %d times in two hours: %v", len(asked), asked)
	}
	// The prober confirms 203.0.113.9:443: the intel now matches it.
	hit := &IntelHit{Pool: "203.0.113.9:443", Confirmed: "stratum mining.subscribe answered 2026-11-16T02:00Z"}
	for i := range f.obs {
		f.obs[i].Intel = hit
	}
	sortObs(f.obs)
	next := (f.obs[0].End + 9_999) / 10_000 * 10_000 // the evaluation that sees the first record that hits the confirmed entry
	if flagged := f.run(next+3600_000, miner); flagged != next {
		t.Fatalf("flagged at +%v, want at the first evaluation after the confirmed hit (+%v)", time.Duration(flagged-t0)*time.Millisecond, time.Duration(next-t0)*time.Millisecond)
	}
	r = f.e.Report(miner)
	if r.Suspect || !r.Mining || r.Machines != 1 || len(r.PoolContacts) != 1 || r.PoolContacts[0].Confirmed != hit.Confirmed {
		t.Errorf("confirmed report %+v", r)
	}
}

func TestNATMachinesAndStop(t *testing.T) {
	f := newFeed()
	rng := rand.New(rand.NewPCG(5, 6))
	hit := &IntelHit{Pool: "198.51.100.7:3333", Coin: "XMR"}
	for i := uint16(0); i < 3; i++ {
		f.stratum(rng, miner, pool, 3333, 40000+i, t0, t0+2*3600_000, hit, false)
	}
	f.run(t0+2*3600_000, miner)
	r := f.e.Report(miner)
	if !r.Mining || r.Machines != 3 {
		t.Fatalf("3 miners behind one address: mining=%v machines=%d", r.Mining, r.Machines)
	}
	// Mining stops: after the quiet period the host is no longer flagged.
	f.run(t0+2*3600_000+31*60_000, miner)
	if r := f.e.Report(miner); r.Mining {
		t.Fatalf("still flagged 31 min after the last mining flow: %+v", r)
	}
}

func TestResearchAssetClass(t *testing.T) {
	f := newFeed()
	rng := rand.New(rand.NewPCG(7, 8))
	f.stratum(rng, miner, pool, 3333, 40000, t0, t0+3600_000, &IntelHit{Pool: "198.51.100.7:3333"}, true)
	f.run(t0+3600_000, miner)
	r := f.e.Report(miner)
	if r.Class != "research" || signals(r)["research_asset"] >= 0 {
		t.Fatalf("research asset: class %q reasons %+v", r.Class, r.Reasons)
	}
}

func TestDonationCadence(t *testing.T) {
	f := newFeed()
	rng := rand.New(rand.NewPCG(9, 10))
	donate := netip.MustParseAddr("192.0.2.99")
	for v := int64(0); v < 5; v++ {
		start := t0 + v*100*60_000
		f.stratum(rng, miner, donate, 443, uint16(41000+v), start, start+60_000, nil, false)
	}
	f.run(t0+5*100*60_000, miner)
	if sig := signals(f.e.Report(miner)); sig["donation_cadence"] == 0 {
		t.Fatalf("donation cadence not seen: %v", sig)
	}
}

// Hard negatives: none of these may be flagged, or even be a suspect, over a simulated day.
func TestHardNegativesStayBelowThreshold(t *testing.T) {
	day := int64(24 * 3600_000)
	cases := map[string]func(f *feed, rng *rand.Rand){
		"mqtt keepalive": func(f *feed, rng *rand.Rand) {
			broker := netip.MustParseAddr("192.0.2.50")
			for ts := t0; ts < t0+day; ts += 60_000 {
				f.add(Observation{Host: office, Remote: broker, HostPort: 40000, RemotePort: 1883, Proto: 6, TCPFlags: 0x18, Outbound: true, Start: ts, End: ts + 5, Packets: 1, Bytes: 54, SamplingRate: 1})
				f.add(Observation{Host: office, Remote: broker, HostPort: 40000, RemotePort: 1883, Proto: 6, TCPFlags: 0x18, Start: ts + 30, End: ts + 35, Packets: 1, Bytes: 54, SamplingRate: 1})
			}
		},
		"ssh idle with keepalives": func(f *feed, rng *rand.Rand) {
			srv := netip.MustParseAddr("192.0.2.22")
			for ts := t0; ts < t0+day; ts += 60_000 {
				f.add(Observation{Host: office, Remote: srv, HostPort: 51000, RemotePort: 22, Proto: 6, TCPFlags: 0x18, Outbound: true, Start: ts, End: ts + 5, Packets: 1, Bytes: 88, SamplingRate: 1})
				f.add(Observation{Host: office, Remote: srv, HostPort: 51000, RemotePort: 22, Proto: 6, TCPFlags: 0x18, Start: ts + 30, End: ts + 35, Packets: 2, Bytes: 88 + 52, SamplingRate: 1})
			}
		},
		"voip call": func(f *feed, rng *rand.Rand) {
			peer := netip.MustParseAddr("192.0.2.60")
			for ts := t0; ts < t0+2*3600_000; ts += 60_000 {
				f.add(Observation{Host: office, Remote: peer, HostPort: 16000, RemotePort: 16000, Proto: 17, Outbound: true, Start: ts, End: ts + 60_000, Packets: 3000, Bytes: 3000 * 200, SamplingRate: 1})
			}
		},
		"game over tcp": func(f *feed, rng *rand.Rand) {
			srv := netip.MustParseAddr("192.0.2.70")
			for ts := t0; ts < t0+3*3600_000; ts += 60_000 {
				f.add(Observation{Host: office, Remote: srv, HostPort: 52000, RemotePort: 7777, Proto: 6, TCPFlags: 0x18, Outbound: true, Start: ts, End: ts + 60_000, Packets: 1200, Bytes: 1200 * 90, SamplingRate: 1})
				f.add(Observation{Host: office, Remote: srv, HostPort: 52000, RemotePort: 7777, Proto: 6, TCPFlags: 0x18, Start: ts, End: ts + 60_000, Packets: 1800, Bytes: 1800 * 160, SamplingRate: 1})
			}
		},
		"https browsing to a shared CDN address in the intel": func(f *feed, rng *rand.Rand) {
			cdn := netip.MustParseAddr("203.0.113.80")
			hit := &IntelHit{Pool: "pool.example.org", Shared: true}
			for ts := t0; ts < t0+day; ts += int64(20_000 + rng.IntN(600_000)) {
				port := uint16(50000 + rng.IntN(10000))
				f.add(Observation{Host: office, Remote: cdn, HostPort: port, RemotePort: 443, Proto: 6, TCPFlags: 0x1b, Outbound: true, Start: ts, End: ts + 3000, Packets: 30, Bytes: 30 * 60, SamplingRate: 1, Intel: hit})
				f.add(Observation{Host: office, Remote: cdn, HostPort: port, RemotePort: 443, Proto: 6, TCPFlags: 0x1b, Start: ts, End: ts + 3000, Packets: 60, Bytes: 60 * 1300, SamplingRate: 1, Intel: hit})
			}
		},
	}
	for name, gen := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFeed()
			gen(f, rand.New(rand.NewPCG(11, 12)))
			if flagged := f.run(t0+day, office); flagged != 0 {
				t.Fatalf("flagged at +%v: %+v", time.Duration(flagged-t0)*time.Millisecond, f.e.Report(office))
			}
			// Nor a suspect: none of these has a Stratum-like session to hand to the prober.
			if f.suspected != 0 {
				t.Fatalf("a suspect at +%v: %+v", time.Duration(f.suspected-t0)*time.Millisecond, f.e.Report(office))
			}
		})
	}
}

func TestEvictionKeepsMinersUnderCap(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxHosts = nShards * 4 // 4 per shard
	e := New(cfg)
	rng := rand.New(rand.NewPCG(13, 14))
	f := &feed{e: e}
	f.stratum(rng, miner, pool, 3333, 40000, t0, t0+600_000, &IntelHit{Pool: "p"}, false)
	f.run(t0+600_000, miner)
	for i := 0; i < 5000; i++ {
		ip := netip.AddrFrom4([4]byte{10, 99, byte(i >> 8), byte(i)})
		e.Observe(&Observation{Host: ip, Remote: pool, Proto: 17, Start: t0 + 600_000, End: t0 + 600_001, Packets: 1, Bytes: 100, SamplingRate: 1})
	}
	st := e.Stats()
	if st.Hosts > cfg.MaxHosts || st.Evictions == 0 {
		t.Fatalf("state %+v over cap %d", st, cfg.MaxHosts)
	}
	if r := e.Report(miner); r == nil || !r.Mining {
		t.Fatal("the flagged miner was evicted")
	}
}

func TestConcurrentObserve(t *testing.T) {
	e := New(DefaultConfig())
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func(g int) {
			for i := 0; i < 20000; i++ {
				ip := netip.AddrFrom4([4]byte{10, byte(g), byte(i >> 8), byte(i)})
				e.Observe(&Observation{Host: ip, Remote: pool, RemotePort: 3333, Proto: 6, Start: t0, End: t0 + 1000, Packets: 2, Bytes: 300, SamplingRate: 1})
			}
			done <- true
		}(g)
	}
	go func() {
		for i := 0; i < 20; i++ {
			e.Evaluate(t0 + 2000)
			e.Watched(func(*Report) {})
		}
	}()
	for g := 0; g < 4; g++ {
		<-done
	}
	if st := e.Stats(); st.Hosts != 4*20000 {
		t.Fatalf("hosts %d, want %d", st.Hosts, 4*20000)
	}
}

// The signals' labels state the engine's numbers: a change of the window
// must change the label (and so docs/metrics.md, which a docs test compares).
func TestSignalLabelsStateTheEngine(t *testing.T) {
	per := names.SignalOf(names.Periodicity)
	for _, want := range []string{fmt.Sprintf("%d–%d s", periodMinMs/1000, periodMaxMs/1000), fmt.Sprintf("%d–%d秒", periodMinMs/1000, periodMaxMs/1000)} {
		if !strings.Contains(per.Label(), want) {
			t.Errorf("periodicity label %q does not say %q", per.Label(), want)
		}
	}
	seen := map[string]bool{}
	for _, s := range signalDefs {
		seen[s.ID] = true
	}
	for _, s := range names.Signals() {
		if !seen[s.ID] {
			t.Errorf("names lists signal %s the engine has no slot for", s.ID)
		}
	}
	if len(seen) != len(names.Signals()) {
		t.Errorf("engine has %d signals, names %d", len(seen), len(names.Signals()))
	}
}
