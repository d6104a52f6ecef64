package score

import (
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var (
	listed = &IntelHit{Pool: "198.51.100.7:3333", Coin: "XMR"}
	bjHour = time.Hour.Milliseconds()
)

// at is flow time h hours (Beijing: t0 is Monday 2026-11-16 08:00) after t0.
func at(h float64) int64 { return t0 + int64(h*float64(bjHour)) }

// web adds a browser's keep-alive HTTPS connection to one server: a small
// request every 15–45 s (message-sized, so the old slot rule kept it) and
// its response, a bulk record.
func (f *feed) web(rng *rand.Rand, host, server netip.Addr, hport uint16, from, to int64) {
	for ts := from; ts < to; ts += int64(15_000 + rng.IntN(30_000)) {
		f.add(Observation{Host: host, Remote: server, HostPort: hport, RemotePort: 443, Proto: 6, TCPFlags: 0x18, Outbound: true,
			Start: ts, End: ts + 200, Packets: 3, Bytes: 3 * 200, SamplingRate: 1, Unit: "u1"})
		f.add(Observation{Host: host, Remote: server, HostPort: hport, RemotePort: 443, Proto: 6, TCPFlags: 0x18,
			Start: ts + 50, End: ts + 900, Packets: 40, Bytes: 40 * 1400, SamplingRate: 1, Unit: "u1"})
	}
}

// use adds ordinary use of a host between the Beijing hours from and to of
// every day in [start, end): a bulk record of 600 packets every 5 min (7,200
// packets an hour), and background chatter (20 packets every 10 min) at all
// times.
func (f *feed) use(host netip.Addr, fromHr, toHr int, start, end int64) {
	for ts := start; ts < end; ts += 5 * 60_000 {
		hod := time.UnixMilli(ts).In(shanghai).Hour()
		remote := netip.AddrFrom4([4]byte{192, 0, 2, byte(ts / 300_000 % 200)})
		if hod >= fromHr && hod < toHr {
			f.add(Observation{Host: host, Remote: remote, HostPort: 60000, RemotePort: 443, Proto: 6, TCPFlags: 0x1b,
				Start: ts, End: ts + 4000, Packets: 600, Bytes: 600 * 1200, SamplingRate: 1, Unit: "u1"})
		} else if ts/300_000%2 == 0 {
			f.add(Observation{Host: host, Remote: remote, HostPort: 60001, RemotePort: 123, Proto: 17,
				Start: ts, End: ts + 10, Packets: 20, Bytes: 20 * 90, SamplingRate: 1, Unit: "u1"})
		}
	}
}

// nightly adds mining to a listed pool from 19:00 to 07:58 (Beijing) of every
// night in [start, end).
func (f *feed) nightly(rng *rand.Rand, host netip.Addr, start, end int64) {
	for d := start; d < end; d += 24 * bjHour {
		from, to := max(d+11*bjHour, start), min(d+23*bjHour+58*60_000, end) // t0+11h is 19:00 Beijing
		if from < to {
			f.stratum(rng, host, pool, 3333, 40000, from, to, listed, false)
		}
	}
}

// A busy PC talking to six web servers (more than the session slots) also
// contacts a listed pool: it is flagged at once (issue 14 item 4: four web
// servers used to hide the pool); an unlisted pool on the same busy PC still
// makes it a suspect.
func TestBusyHostCannotHideItsPool(t *testing.T) {
	for _, tc := range []struct {
		name string
		hit  *IntelHit
		port uint16
	}{{"listed pool", listed, 3333}, {"unlisted pool", nil, 443}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFeed()
			rng := rand.New(rand.NewPCG(21, 22))
			for i := range 6 {
				f.web(rng, office, netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}), uint16(50000+i), t0, at(2))
			}
			contact := at(0.5)
			f.stratum(rng, office, pool, tc.port, 40000, contact, at(2), tc.hit, false)
			// Each web server had three message-sized records in the half
			// hour before the contact: the former rule (never replace a
			// session with intel or three message-like records) kept them
			// all, and the pool found no slot.
			recent := map[netip.Addr]int{}
			for _, o := range f.obs {
				if o.End < contact && contact-o.End < 30*60_000 && messageLike(&o) && o.Remote != pool {
					recent[o.Remote]++
				}
			}
			held := 0
			for _, n := range recent {
				if n >= 3 {
					held++
				}
			}
			if held < slotsPerHost {
				t.Fatalf("setup: only %d web sessions would have held a slot", held)
			}
			if flagged := f.run(contact-10_000, office); flagged != 0 {
				t.Fatal("flagged before any pool contact")
			}
			got := f.run(at(2), office)
			r := f.e.Report(office)
			if tc.hit != nil {
				if got == 0 || got-contact > 2*60_000 {
					t.Fatalf("flagged %v after the first pool contact, want within 2 min: %+v", time.Duration(got-contact)*time.Millisecond, r)
				}
				return
			}
			if got != 0 || !r.Suspect || r.Reasons[0].Remote != netip.AddrPortFrom(pool, 443).String() {
				t.Fatalf("unlisted pool on a busy host: want a suspect (not flagged) for %v:443, got %+v", pool, r)
			}
			t.Logf("suspect since +%v after the first contact", time.Duration(r.SuspectSince-contact)*time.Millisecond)
		})
	}
}

// A refuted endpoint makes no suspect and is not handed to the prober again;
// a suspect whose endpoint the prober refutes stops being one at the next
// evaluation.
func TestRefutedEndpointMakesNoSuspect(t *testing.T) {
	asked := 0
	cfg := DefaultConfig()
	cfg.OnSuspect = func(netip.Addr, netip.AddrPort) { asked++ }
	refuted := netip.AddrPortFrom(proxy, 443)
	cfg.Probed = func(_ netip.Addr, ap netip.AddrPort) ProbeState { return refutedIf(ap == refuted) }
	f := &feed{e: New(cfg)}
	rng := rand.New(rand.NewPCG(3, 4))
	f.stratum(rng, miner, proxy, 443, 50000, t0, at(3), nil, false)
	for now := t0; now <= at(3); now += 10 * 60_000 {
		f.run(now, miner)
		if r := f.e.Report(miner); r != nil && (r.Suspect || r.Mining || r.Score >= cfg.SuspectAt) {
			t.Fatalf("refuted endpoint at +%v: %+v", time.Duration(now-t0)*time.Millisecond, r)
		}
	}
	if asked != 0 {
		t.Errorf("prober asked %d times about a refuted endpoint", asked)
	}

	probed := false // the prober answers only after it was asked
	cfg.Probed = func(_ netip.Addr, ap netip.AddrPort) ProbeState { return refutedIf(probed && ap == refuted) }
	g := &feed{e: New(cfg)}
	g.stratum(rng, miner, proxy, 443, 50000, t0, at(3), nil, false)
	g.run(at(1), miner)
	if r := g.e.Report(miner); r == nil || !r.Suspect || asked != 1 {
		t.Fatalf("before the probe: asked %d, %+v", asked, r)
	}
	probed = true
	g.run(at(1)+10_000, miner)
	if r := g.e.Report(miner); r.Suspect || r.Mining {
		t.Fatalf("still a suspect after the refutation: %+v", r)
	}
	g.run(at(3), miner)
	if asked != 1 {
		t.Errorf("asked %d times, want once (before the refutation)", asked)
	}
}

// The queue never blocks the engine: what does not fit is dropped and
// counted, and handed over again after suspectReask.
func TestSuspectQueueIsBounded(t *testing.T) {
	q := NewSuspectQueue(2)
	cfg := DefaultConfig()
	cfg.OnSuspect = q.Offer
	f := &feed{e: New(cfg)}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 4 {
		f.stratum(rng, netip.AddrFrom4([4]byte{10, 20, 5, byte(i)}), proxy, 443, 50000, t0, at(1.5), nil, false)
	}
	f.run(at(0.5), miner) // four suspects, nobody reading the queue
	if len(q.C) != 2 || q.Dropped() != 2 {
		t.Fatalf("queue holds %d, dropped %d; want 2 and 2", len(q.C), q.Dropped())
	}
	for len(q.C) > 0 {
		<-q.C
	}
	f.run(at(1.5), miner) // an hour later all four are offered again
	if len(q.C) != 2 || q.Dropped() != 4 {
		t.Fatalf("after suspectReask the queue holds %d, dropped %d; want 2 and 4", len(q.C), q.Dropped())
	}
}

// classAt runs the feed hour by hour and returns the class at each hour end.
func classAt(t *testing.T, f *feed, ip netip.Addr, from, to int64) map[int64]*Report {
	t.Helper()
	out := map[int64]*Report{}
	for now := from; now <= to; now += bjHour {
		f.run(now, ip)
		if r := f.e.Report(ip); r != nil {
			out[now] = r
		}
	}
	return out
}

// Issue 14 item 6, known answers from its wording.
func TestClassHints(t *testing.T) {
	// A night-only trojan on a PC used 08:00–18:00: "passive" within a day
	// of its first mining, never "active", with the hours it mined.
	t.Run("night-only trojan", func(t *testing.T) {
		f := newFeed()
		rng := rand.New(rand.NewPCG(31, 32))
		f.use(office, 8, 18, t0, at(36))
		f.nightly(rng, office, t0, at(36))
		reps := classAt(t, f, office, t0, at(35))
		firstPassive := int64(0)
		for now := t0; now <= at(35); now += bjHour {
			r := reps[now]
			if r == nil {
				continue
			}
			if r.Class == "active" {
				t.Fatalf("active at +%dh: %s", (now-t0)/bjHour, r.ClassReason)
			}
			if r.Class == "passive" && firstPassive == 0 {
				firstPassive = now
			}
		}
		if firstPassive == 0 || firstPassive > at(11+24) {
			t.Fatalf("passive first at +%dh, want within a day of the first mining (19:00, +11h)", (firstPassive-t0)/bjHour)
		}
		t.Logf("passive from +%dh: %s", (firstPassive-t0)/bjHour, reps[firstPassive].ClassReason)
		// At Tuesday 12:00 the last 24 h hold the night of 19:00–07:58, and the
		// engine has watched 18 hours since it began (19:00 … 12:00).
		r := reps[at(28)]
		want := []int{19, 20, 21, 22, 23, 0, 1, 2, 3, 4, 5, 6, 7}
		if !slices.Equal(r.MiningHours, want) || r.ObservedHours != 18 || r.Class != "passive" {
			t.Errorf("Tuesday 12:00: class %s, mining hours %v, observed %d; want passive, %v, 18 (%s)", r.Class, r.MiningHours, r.ObservedHours, want, r.ClassReason)
		}
	})
	// A 24/7 miner first seen at 23:00: never "passive" (it was, 05:00–08:00),
	// "active" within a day.
	for _, tc := range []struct {
		name   string
		inUse  bool
		starts float64
	}{{"24/7 server from 23:00", false, 15}, {"24/7 on a PC in use from 19:00", true, 11}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFeed()
			rng := rand.New(rand.NewPCG(33, 34))
			start := at(tc.starts)
			if tc.inUse {
				f.use(office, 8, 18, t0, at(tc.starts+30))
			}
			f.stratum(rng, office, pool, 3333, 40000, start, at(tc.starts+30), listed, false)
			reps := classAt(t, f, office, t0, at(tc.starts+30))
			firstActive := int64(0)
			for now := start; now <= at(tc.starts+30); now += bjHour {
				r := reps[now]
				if r == nil {
					continue
				}
				if r.Class == "passive" {
					t.Fatalf("passive at %s Beijing: %s", time.UnixMilli(now).In(shanghai).Format("Mon 15:04"), r.ClassReason)
				}
				if r.Class == "active" && firstActive == 0 {
					firstActive = now
				}
			}
			if firstActive == 0 || firstActive-start > 24*bjHour {
				t.Fatalf("active first %v after the start, want within a day", time.Duration(firstActive-start)*time.Millisecond)
			}
			// The mining stops as the hour turns: the hour just begun holds none.
			if r := reps[at(tc.starts+30)]; r.Class != "active" || len(r.MiningHours) != 23 || r.ObservedHours != 24 {
				t.Errorf("after 30 h: class %s, %d mining hours, observed %d; want active, 23, 24", r.Class, len(r.MiningHours), r.ObservedHours)
			}
			t.Logf("active from %s Beijing", time.UnixMilli(firstActive).In(shanghai).Format("Mon 15:04"))
		})
	}
}

// The machine count is the concurrent pool sessions only: one miner that
// also keeps three long-lived Stratum-like sessions to other servers (a chat,
// a notification push, a proxy) is one machine, not four; two machines that
// take turns on one connection each are one at a time.
func TestMachinesCountPoolSessionsOnly(t *testing.T) {
	f := newFeed()
	rng := rand.New(rand.NewPCG(41, 42))
	f.stratum(rng, miner, pool, 3333, 40000, t0, at(2), listed, false)
	for i := range 3 {
		f.stratum(rng, miner, netip.AddrFrom4([4]byte{192, 0, 2, byte(80 + i)}), 443, uint16(41000+i), t0, at(2), nil, false)
	}
	f.run(at(2), miner)
	if r := f.e.Report(miner); !r.Mining || r.Machines != 1 {
		t.Fatalf("one miner and three unrelated sessions: mining=%v machines=%d", r.Mining, r.Machines)
	}
	g := newFeed()
	g.stratum(rng, office, pool, 3333, 42000, t0, at(1), listed, false)
	g.stratum(rng, office, pool, 3333, 42001, at(1)+60_000, at(2), listed, false)
	g.run(at(2), office)
	if r := g.e.Report(office); !r.Mining || r.Machines != 1 {
		t.Fatalf("a reconnection counted as another machine: machines=%d", r.Machines)
	}
}

// At 1:1000 sampling a NAT address with three miners gives a record every
// hour or two: the flag must hold as one episode while they keep mining
// (before, the 30 min quiet period ended it after nearly every record), and
// end once they stop.
func TestSampledMinerIsOneEpisode(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	full := newFeed()
	for i := range 3 {
		full.stratum(rng, miner, pool, 3333, uint16(40000+i), t0, at(24), listed, false)
	}
	f := newFeed()
	var ends []int64
	for _, o := range full.obs { // sample packets 1:1000, as sFlow or sampled NetFlow would
		for p := uint64(0); p < o.Packets; p++ {
			if rng.IntN(1000) == 0 {
				s := o
				s.Packets, s.Bytes, s.SamplingRate = 1000, o.Bytes/o.Packets*1000, 1000
				f.add(s)
				ends = append(ends, s.End)
			}
		}
	}
	slices.Sort(ends)
	long := 0
	for i := 1; i < len(ends); i++ {
		if ends[i]-ends[i-1] > DefaultConfig().QuietAfter.Milliseconds() {
			long++
		}
	}
	if long < 5 {
		t.Fatalf("setup: %d sampled records, only %d gaps longer than the quiet period", len(ends), long)
	}
	episodes, was := 0, false
	for now := t0; now <= at(24); now += 10 * 60_000 {
		f.run(now, miner)
		r := f.e.Report(miner)
		if r != nil && r.Mining && !was {
			episodes++
		}
		was = r != nil && r.Mining
	}
	if episodes != 1 {
		t.Fatalf("%d episodes in a day of sampled mining (%d records, %d gaps over 30 min), want 1", episodes, len(ends), long)
	}
	f.run(at(24+13), miner)
	if r := f.e.Report(miner); r != nil && r.Mining {
		t.Fatalf("still flagged 13 h after the mining stopped: %+v", r)
	}
	t.Logf("%d sampled records, %d gaps over 30 min: one episode", len(ends), long)
}

// A snapshot written before the suspect stage (format version 1, without its
// fields) still loads: hosts come back, and the proxied miner flagged then on
// behaviour alone is a suspect now.
func TestSnapshotFromBeforeSuspects(t *testing.T) {
	e := New(DefaultConfig())
	n, err := e.LoadFile(filepath.Join("testdata", "state-v1.snap"))
	if err != nil || n != 2 {
		t.Fatalf("restored %d hosts: %v", n, err)
	}
	if r := e.Report(office); r == nil || !r.Mining || r.FlaggedSince == 0 || len(r.PoolContacts) != 1 || r.PoolContacts[0].Count == 0 {
		t.Errorf("pool miner after restore: %+v", r)
	}
	if r := e.Report(miner); r == nil || r.Mining || !r.Suspect || r.FlaggedSince != 0 {
		t.Errorf("proxied miner after restore: %+v", r)
	}
}

// At 1:100 a Stratum-like session to an unlisted server earns no points for
// its first hour, but its endpoint is put to the prober (through Probed)
// well before that hour is up, and without making the host a suspect.
func TestSampledStratumGoesToTheProberEarly(t *testing.T) {
	ep := netip.AddrPortFrom(proxy, 443)
	var now, firstAsked int64
	cfg := DefaultConfig()
	cfg.Probed = func(_ netip.Addr, ap netip.AddrPort) ProbeState {
		if ap == ep && firstAsked == 0 {
			firstAsked = now
		}
		return Unprobed
	}
	f := &feed{e: New(cfg)}
	rng := rand.New(rand.NewPCG(61, 62))
	full := newFeed()
	for i := range 3 {
		full.stratum(rng, miner, proxy, 443, uint16(50000+i), t0, at(3), nil, false)
	}
	var first int64
	for _, o := range full.obs {
		for p := uint64(0); p < o.Packets; p++ {
			if rng.IntN(100) == 0 {
				s := o
				s.Packets, s.Bytes, s.SamplingRate = 100, o.Bytes/o.Packets*100, 100
				f.add(s)
				if first == 0 || s.Start < first {
					first = s.Start
				}
			}
		}
	}
	for now = t0; now <= at(1)-10*60_000 && firstAsked == 0; now += 5 * 60_000 {
		f.run(now, miner)
		if r := f.e.Report(miner); r != nil && (r.Suspect || r.Mining) {
			t.Fatalf("a young sampled session made the host a suspect at +%v: %+v", time.Duration(now-t0)*time.Millisecond, r)
		}
	}
	if firstAsked == 0 {
		t.Fatalf("the prober was not asked about %s within 50 min of sampled Stratum", ep)
	}
	t.Logf("first sampled record at +%v, prober asked at +%v", time.Duration(first-t0)*time.Millisecond, time.Duration(firstAsked-t0)*time.Millisecond)
}

// refutedIf is ProbeRefuted when b, else Unprobed.
func refutedIf(b bool) ProbeState {
	if b {
		return ProbeRefuted
	}
	return Unprobed
}

// While the probe of an endpoint is pending, the behaviour of its sessions
// makes no suspect: the prober's answer decides. A refutation then keeps the
// host from ever being a suspect; when no answer comes, the wait ends and the
// behaviour makes it a suspect at once, as it would without the prober; a
// host already a suspect stays one while its endpoint is asked again.
func TestPendingProbeMakesNoSuspectYet(t *testing.T) {
	ep := netip.AddrPortFrom(proxy, 443)
	// The wait in this test: longer than the behaviour takes to make a
	// suspect (about 5 min), so that the wait is what holds the suspect back.
	const wait = 10 * 60_000
	without := newFeed()
	without.stratum(rand.New(rand.NewPCG(71, 72)), miner, proxy, 443, 50000, t0, at(3), nil, false)
	without.run(at(3), miner)
	if without.suspected == 0 || without.suspected-t0 >= wait {
		t.Fatalf("setup: without the prober a suspect at +%v, want one within the wait", time.Duration(without.suspected-t0)*time.Millisecond)
	}
	for _, tc := range []struct {
		name   string
		answer ProbeState
	}{{"refuted", ProbeRefuted}, {"no answer", Unprobed}} {
		t.Run(tc.name, func(t *testing.T) {
			var f *feed
			var asked int64
			again := false // the endpoint handed over again (a re-probe)
			cfg := DefaultConfig()
			cfg.Probed = func(h netip.Addr, ap netip.AddrPort) ProbeState {
				if h != miner || ap != ep {
					t.Errorf("asked about %v of %v", ap, h)
				}
				if asked == 0 {
					asked = f.clock
				}
				if again || f.clock-asked < wait {
					return ProbePending
				}
				return tc.answer
			}
			f = &feed{e: New(cfg)}
			f.stratum(rand.New(rand.NewPCG(71, 72)), miner, proxy, 443, 50000, t0, at(3), nil, false)
			f.run(at(1.5), miner)
			if asked == 0 || asked > without.suspected {
				t.Fatalf("asked at +%v, the host was a suspect without the prober at +%v", time.Duration(asked-t0)*time.Millisecond, time.Duration(without.suspected-t0)*time.Millisecond)
			}
			if tc.answer == ProbeRefuted {
				if f.suspected != 0 {
					t.Fatalf("a suspect at +%v while its probe was pending or refuted", time.Duration(f.suspected-t0)*time.Millisecond)
				}
				return
			}
			// No answer: the wait ends and behaviour counts as before.
			if f.suspected == 0 || f.suspected > max(without.suspected, asked+wait) {
				t.Fatalf("no answer: suspect at +%v, want at +%v (the wait's end, or when it was one without the prober)",
					time.Duration(f.suspected-t0)*time.Millisecond, time.Duration(max(without.suspected, asked+wait)-t0)*time.Millisecond)
			}
			if f.suspected < asked+wait {
				t.Fatalf("a suspect at +%v, before the wait ended at +%v", time.Duration(f.suspected-t0)*time.Millisecond, time.Duration(asked+wait-t0)*time.Millisecond)
			}
			again = true
			f.run(at(2), miner)
			if r := f.e.Report(miner); r == nil || !r.Suspect || r.SuspectSince != f.suspected {
				t.Fatalf("a suspect's endpoint asked again unmade the suspect: %+v", r)
			}
			t.Logf("asked at +%v, suspect at +%v (without the prober +%v)", time.Duration(asked-t0)*time.Millisecond,
				time.Duration(f.suspected-t0)*time.Millisecond, time.Duration(without.suspected-t0)*time.Millisecond)
		})
	}
}

// Under sparse sampling (1:1024) a long-lived session's third record comes
// after more than an hour, so its first look already earns the full Stratum
// profile: before the pending rule its host was a suspect for the evaluation
// in which the endpoint was handed over, until the refutation came. With the
// probe pending for that evaluation, it never is.
func TestSampledSessionWaitsForItsProbe(t *testing.T) {
	ep := netip.AddrPortFrom(proxy, 443)
	rng := rand.New(rand.NewPCG(81, 82))
	full := newFeed()
	for i := range 3 {
		full.stratum(rng, office, proxy, 443, uint16(52000+i), t0, at(8), nil, false)
	}
	var sampled []Observation
	for _, o := range full.obs {
		for p := uint64(0); p < o.Packets; p++ {
			if rng.IntN(1024) == 0 {
				s := o
				s.Packets, s.Bytes, s.SamplingRate = 1024, o.Bytes/o.Packets*1024, 1024
				sampled = append(sampled, s)
			}
		}
	}
	// The prober answers one evaluation after it was asked, as the eval's
	// model does; pending says whether the engine is told it is waiting.
	run := func(pending bool) (suspected int64) {
		var f *feed
		var asked int64
		cfg := DefaultConfig()
		cfg.Probed = func(_ netip.Addr, ap netip.AddrPort) ProbeState {
			if ap != ep {
				return Unprobed
			}
			switch {
			case asked == 0:
				asked = f.clock
				fallthrough
			case f.clock == asked:
				if pending {
					return ProbePending
				}
				return Unprobed
			}
			return ProbeRefuted
		}
		f = &feed{e: New(cfg), obs: slices.Clone(sampled)}
		f.run(at(8), office)
		if asked == 0 {
			t.Fatalf("setup: the sampled session (%d records) was never handed over", len(sampled))
		}
		return f.suspected
	}
	if run(false) == 0 {
		t.Fatal("setup: without the pending rule the host was never a suspect")
	}
	if at := run(true); at != 0 {
		t.Fatalf("a suspect at +%v while its probe was pending", time.Duration(at-t0)*time.Millisecond)
	}
}

// cdnHit is a listed pool domain's shared (CDN) address: evidence, never
// enough alone.
var cdnHit = &IntelHit{Pool: "xmr-tls.pool.example", Coin: "XMR", Shared: true}

// sampledMsg is one sampled (1:100) message-sized record of host's
// connection hport to remote:443 at ts.
func sampledMsg(host, remote netip.Addr, hport uint16, ts int64, out bool, hit *IntelHit) Observation {
	return Observation{Host: host, Remote: remote, HostPort: hport, RemotePort: 443, Proto: 6, TCPFlags: 0x18, Outbound: out,
		Start: ts, End: ts + 40, Packets: 100, Bytes: 100 * 180, SamplingRate: 100, Unit: "u1", Intel: hit}
}

// A probe's confirmation flags the host at the evaluation right after it
// while its session is live, not with its next sampled record (at 1:100 that
// may be most of an hour later): the listed domain's SNI confirmation at its
// CDN address for a host noted there, or the bare confirmation of an unlisted
// endpoint its session was handed over for. The pool contact carries the
// probe's evidence and no record is invented (the counts stay those of the
// records seen). Another host of the CDN address, for which Confirmed has
// nothing, is not flagged.
func TestConfirmationFlagsBetweenRecords(t *testing.T) {
	cdn := netip.MustParseAddr("104.21.48.7")
	for _, tc := range []struct {
		name    string
		remote  netip.Addr
		hit     *IntelHit
		records uint64 // counted for the shared address
	}{{"CDN address", cdn, cdnHit, 4}, {"unlisted endpoint", proxy, nil, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			ep := netip.AddrPortFrom(tc.remote, 443)
			var f *feed
			confirmedAt := at(0.5)
			confirmed := &IntelHit{Pool: ep.String(), Coin: "XMR", Confirmed: "xmrig-login over TLS at 2026-11-16 08:30"}
			var askedOther bool
			cfg := DefaultConfig()
			cfg.Probed = func(netip.Addr, netip.AddrPort) ProbeState { return Unprobed }
			cfg.Confirmed = func(h netip.Addr, ap netip.AddrPort) *IntelHit {
				if ap != ep {
					t.Errorf("Confirmed asked about %v", ap)
				}
				if h != miner {
					askedOther = true
					return nil // not noted there
				}
				if f.clock >= confirmedAt {
					return confirmed
				}
				return nil
			}
			f = &feed{e: New(cfg)}
			// Sampled records at +1, +12 and +25 min, then none until +80 min.
			for i, m := range []float64{1, 12, 25, 80} {
				f.add(sampledMsg(miner, tc.remote, 50000, at(m/60), i%2 == 0, tc.hit))
			}
			if tc.hit != nil {
				f.add(sampledMsg(office, tc.remote, 51000, at(0.3), true, tc.hit))
			}
			flagged := f.run(at(1.5), miner)
			if flagged != confirmedAt {
				t.Fatalf("flagged at +%v (t0 - 56 y: never), want at the evaluation of the confirmation (+%v)", time.Duration(flagged-t0)*time.Millisecond, time.Duration(confirmedAt-t0)*time.Millisecond)
			}
			r := f.e.Report(miner)
			var shared, conf *PoolContact
			for i := range r.PoolContacts {
				switch pc := &r.PoolContacts[i]; pc.Pool {
				case cdnHit.Pool:
					shared = pc
				case confirmed.Pool:
					conf = pc
				}
			}
			if tc.records > 0 && (shared == nil || shared.Count != tc.records) || conf == nil || conf.Confirmed != confirmed.Confirmed || conf.Count != 0 {
				t.Fatalf("pool contacts %+v: want the %d records to the shared address and the confirmation's evidence, no record counted for it", r.PoolContacts, tc.records)
			}
			if tc.hit == nil {
				return
			}
			if !askedOther {
				t.Fatal("setup: the other host's session to the CDN address was not asked about")
			}
			if o := f.e.Report(office); o == nil || o.Mining {
				t.Fatalf("another host of the CDN address: %+v", o)
			}
		})
	}
}

// A sampled session to a listed domain's shared (CDN) address is handed to
// the prober (Probed) after two message-sized records on one connection ten
// minutes or more apart, not only after the third: the address is already
// evidence and the SNI probe decides. Not with records on two connections
// (page loads), nor two records a few minutes apart, nor at an address no
// pool domain resolves to (there the third record is still needed).
func TestSharedAddressAskedAfterTwoRecords(t *testing.T) {
	cdn := netip.MustParseAddr("104.21.48.7")
	for _, tc := range []struct {
		name   string
		hit    *IntelHit
		ports  [2]uint16
		second float64 // minutes after the first record
		asked  bool
	}{
		{"one connection, 14 min", cdnHit, [2]uint16{50000, 50000}, 14, true},
		{"two connections", cdnHit, [2]uint16{50000, 50001}, 14, false},
		{"3 min apart", cdnHit, [2]uint16{50000, 50000}, 3, false},
		{"no pool domain", nil, [2]uint16{50000, 50000}, 14, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked int64
			var f *feed
			cfg := DefaultConfig()
			cfg.Probed = func(netip.Addr, netip.AddrPort) ProbeState {
				if asked == 0 {
					asked = f.clock
				}
				return ProbePending
			}
			f = &feed{e: New(cfg)}
			f.add(sampledMsg(miner, cdn, tc.ports[0], at(0.1), true, tc.hit))
			second := at(0.1 + tc.second/60)
			f.add(sampledMsg(miner, cdn, tc.ports[1], second, false, tc.hit))
			f.run(at(0.9), miner)
			switch {
			case tc.asked && (asked <= second || asked > second+20_000): // the first evaluation after the record
				t.Fatalf("asked at +%v, want with the second record (+%v)", time.Duration(asked-t0)*time.Millisecond, time.Duration(second-t0)*time.Millisecond)
			case !tc.asked && asked != 0:
				t.Fatalf("asked at +%v after two records", time.Duration(asked-t0)*time.Millisecond)
			}
			if r := f.e.Report(miner); r != nil && (r.Mining || r.Suspect) {
				t.Fatalf("two records made %+v", r)
			}
		})
	}
}
