// Package eval scores the exporter's detection on a simulated scenario: it
// generates the scenario's flows at several sampling rates, runs them through
// the same pipeline the exporter uses, and compares the flags with the truth.
package eval

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/pipeline"
	"github.com/minewatch/minewatch/exporter/probe"
	"github.com/minewatch/minewatch/exporter/score"
	"github.com/minewatch/minewatch/exporter/sim"
)

// Rate is one way of exporting the scenario's traffic.
type Rate struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	Sampling uint32 `json:"sampling"`
}

// DefaultRates: unsampled, ISP NetFlow 1:100, sFlow 1:256 and 1:1024.
var DefaultRates = []Rate{
	{"unsampled", "ipfix", 1},
	{"netflow-1:100", "v9", 100},
	{"sflow-1:256", "sflow", 256},
	{"sflow-1:1024", "sflow", 1024},
}

// Row is the score of one mining behaviour (or "overall") at one rate.
type Row struct {
	Rate          string  `json:"rate"`
	Behaviour     string  `json:"behaviour"`
	Miners        int     `json:"miners"`
	Detected      int     `json:"detected"`
	DetectionRate float64 `json:"detection_rate"`
	FPHosts       int     `json:"false_positive_hosts"`
	Negatives     int     `json:"negative_hosts"`
	FPRate        float64 `json:"false_positive_rate"`
	Precision     float64 `json:"precision"`
	F1            float64 `json:"f1"`
	TTFMedian     float64 `json:"time_to_flag_median_s"` // -1: none detected
	TTFP90        float64 `json:"time_to_flag_p90_s"`
	Within2h      float64 `json:"flagged_within_2h"` // share of miners flagged within 2 h of their first mining flow
	// TTFRecordMedian/P90: time from the miner's first exported record (the
	// first of its host the pipeline receives, after sampling, in the episode
	// the flag belongs to) to the flag; issue 14's targets are read this way.
	// The TTF fields above count from the start of the episode. -1: none detected.
	TTFRecordMedian float64 `json:"time_from_first_record_median_s"`
	TTFRecordP90    float64 `json:"time_from_first_record_p90_s"`
	ClassAccuracy   float64 `json:"class_hint_accuracy"`
	// SuspectHosts: ordinary hosts that were ever suspects (可疑: behaviour
	// alone; not flagged, not counted, but probed). Issue 14's target: ≤ 1 %.
	SuspectHosts int `json:"suspect_hosts"`
	// Probes: endpoints the model prober was asked about (0 without Probe).
	Probes int `json:"probes"`
}

// Options of a run.
type Options struct {
	// Probe puts a model of the active prober in the loop: each suspect's
	// remote endpoint is answered as the scenario's servers would answer
	// exporter/probe — a pool of the scenario (listed or behind a private
	// proxy) confirms, any other server refutes — one evaluation tick (10 s)
	// after the engine asks. What the real prober says of real servers is
	// tested in exporter/probe; this measures what the answers do to detection.
	Probe bool
}

// Result of one scenario.
type Result struct {
	Scenario string              `json:"scenario"`
	Hosts    int                 `json:"hosts"`
	Rows     []Row               `json:"rows"`
	Records  map[string]int      `json:"records"` // per rate
	Elapsed  time.Duration       `json:"elapsed_ns"`
	FPList   map[string][]string `json:"false_positive_ips,omitempty"` // per rate, first few
	// FPByGroup counts false-positive hosts per rate and host group (kind and ordinary behaviours).
	FPByGroup map[string]map[string]int `json:"false_positives_by_group,omitempty"`
	// SuspectByGroup counts ordinary hosts that were suspects per rate, by
	// host group and the signals of their first suspect look.
	SuspectByGroup map[string]map[string]int `json:"suspects_by_group,omitempty"`
}

// hostOutcome is what the scorer did to one host.
type hostOutcome struct {
	flagged   bool
	flaggedAt int64
	firstRec  int64 // arrival (End) of the host's first record in the episode the flag belongs to
	class     string
	why       string // the reasons of the first flag, for the false-positive list
	suspect   bool   // was a suspect at some look (not necessarily flagged)
	suspectOn string // the signals of its first suspect look
}

// Run evaluates the scenario at each rate. progress may be nil.
func Run(s *sim.Scenario, rates []Rate, cfg score.Config, o Options, progress func(string)) (*Result, error) {
	t0 := time.Now()
	res := &Result{Scenario: s.Name, Records: map[string]int{}, FPList: map[string][]string{}, FPByGroup: map[string]map[string]int{}, SuspectByGroup: map[string]map[string]int{}}
	for _, rate := range rates {
		if progress != nil {
			progress(rate.Name)
		}
		gen, err := sim.Generate(s, &sim.Override{Protocol: rate.Protocol, Sampling: rate.Sampling}, nil)
		if err != nil {
			return nil, err
		}
		res.Hosts = len(gen.Hosts)
		res.Records[rate.Name] = len(gen.Records)
		out, probes, err := score1(s, gen, cfg, o)
		if err != nil {
			return nil, err
		}
		rows, fps, groups, sgroups := tabulate(rate.Name, gen.Truth, out)
		for i := range rows {
			rows[i].Probes = probes
		}
		res.FPByGroup[rate.Name] = groups
		res.SuspectByGroup[rate.Name] = sgroups
		res.Rows = append(res.Rows, rows...)
		res.FPList[rate.Name] = fps
	}
	res.Elapsed = time.Since(t0)
	return res, nil
}

// Setup builds the ledger and intel a scenario implies, as flowgen writes them.
func Setup(s *sim.Scenario, hosts []sim.Host) (*ledger.Ledger, *intel.Store, error) {
	return setup(s, hosts, nil)
}

// setup is Setup with the intel store on clock (nil: the wall clock): the
// flow clock in a replay, so that probe decisions expire in flow time.
func setup(s *sim.Scenario, hosts []sim.Host, clock func() time.Time) (*ledger.Ledger, *intel.Store, error) {
	var lb, ib bytes.Buffer
	if err := sim.WriteLedger(&lb, s, hosts); err != nil {
		return nil, nil, err
	}
	led, err := ledger.Parse(s.Name+"-ledger.yaml", lb.Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("generated ledger: %w", err)
	}
	if err := sim.WriteIntel(&ib, s); err != nil {
		return nil, nil, err
	}
	list, err := intel.Parse(s.Name+"-pools.txt", ib.Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("generated intel: %w", err)
	}
	st := intel.NewStore(intel.Options{Now: clock})
	st.Set(intel.NewSet([]*intel.List{list}, nil, s.Resolved()))
	return led, st, nil
}

// score1 runs the records through a pipeline. A miner counts as flagged only
// when seen flagged during one of its mining episodes (a gamer who also mines
// is not "detected" by a flag his games earned before he started).
func score1(s *sim.Scenario, gen *sim.Result, cfg score.Config, opt Options) (map[netip.Addr]*hostOutcome, int, error) {
	episodes := map[netip.Addr][]sim.Span{}
	for i := range gen.Truth {
		if t := &gen.Truth[i]; t.Mining() {
			episodes[netip.MustParseAddr(t.IP)] = t.Episodes
		}
	}
	// firstRec[ip][i]: when the pipeline received the host's first record
	// in its episode i (the record's End, when the loop below feeds it; 0: none yet).
	firstRec := map[netip.Addr][]int64{}
	for ip, eps := range episodes {
		firstRec[ip] = make([]int64, len(eps))
	}
	seen := func(ip netip.Addr, at int64) {
		for i, e := range episodes[ip] {
			if at >= e.Start && at <= e.End && firstRec[ip][i] == 0 {
				firstRec[ip][i] = at
			}
		}
	}
	var flowNow int64
	led, st, err := setup(s, gen.Hosts, func() time.Time { return time.UnixMilli(flowNow) })
	if err != nil {
		return nil, 0, err
	}
	// The model prober, wired as exporter/server wires the real one (the
	// same probe.Feed, with the exporter's wait): asked through OnSuspect and
	// Probed, answering into the intel store one tick later, read back
	// through Probed.
	model := &modelProber{pools: poolEndpoints(s), done: map[probe.Target]bool{}}
	if opt.Probe {
		pc := probe.DefaultConfiguration()
		feed := &probe.Feed{Store: st, Prober: model, NoteFor: pc.ConfirmedTTL, Wait: 2 * pc.ProbeTimeout,
			Now: func() time.Time { return time.UnixMilli(flowNow) }}
		feed.Hook(&cfg)
	}
	answer := func(now int64) { model.answer(st, now) }
	p, err := pipeline.New(pipeline.Options{Ledger: led, Intel: st, Detect: cfg})
	if err != nil {
		return nil, 0, err
	}
	out := map[netip.Addr]*hostOutcome{}
	const tick, look = 10_000, 60_000
	from := s.Start.UnixMilli()
	next, nextLook := from+tick, from+look
	observe := func(now int64) {
		p.Engine().Watched(func(r *score.Report) {
			if r.Suspect && !r.Mining {
				if _, miner := episodes[r.IP]; !miner {
					o := out[r.IP]
					if o == nil {
						o = &hostOutcome{}
						out[r.IP] = o
					}
					if !o.suspect {
						var sig []string
						for _, rs := range r.Reasons {
							if rs.Points > 0 {
								sig = append(sig, rs.Signal)
							}
						}
						slices.Sort(sig)
						o.suspectOn = strings.Join(slices.Compact(sig), "+")
					}
					o.suspect = true
				}
				return
			}
			if !r.Mining {
				return
			}
			ep := -1
			if eps, miner := episodes[r.IP]; miner {
				for i, e := range eps {
					if now >= e.Start && now <= e.End {
						ep = i
					}
				}
				if ep < 0 {
					return
				}
			}
			o := out[r.IP]
			if o == nil || !o.flagged {
				if o == nil {
					o = &hostOutcome{}
				}
				o.flagged, o.flaggedAt = true, r.FlaggedSince
				if o.flaggedAt == 0 {
					o.flaggedAt = now
				}
				if ep >= 0 {
					o.firstRec = firstRec[r.IP][ep]
				}
				out[r.IP] = o
				var why []string
				for _, rs := range r.Reasons {
					why = append(why, fmt.Sprintf("%s %+.0f %s", rs.Signal, rs.Points, rs.Remote))
				}
				o.why = strings.Join(why, ", ")
			}
			o.class = r.Class
		})
	}
	var rec flow.Record
	r := &rec
	for i := range gen.Records {
		gen.Record(i, r)
		for r.End >= next {
			flowNow = next
			p.Tick(next)
			answer(next) // the answers arrive before the next tick evaluates
			if next >= nextLook {
				observe(next)
				nextLook += look
			}
			next += tick
		}
		seen(r.Src, r.End)
		seen(r.Dst, r.End)
		p.Process(r)
	}
	flowNow = next
	p.Tick(next)
	observe(next)
	return out, len(model.done), nil
}

// modelProber answers as the scenario's servers would answer exporter/probe:
// a pool with an address of its own (listed or a private proxy: it answers
// Stratum as any pool does) confirms; a pool known by a domain on the shared
// CDN address confirms only when probed with that domain as SNI (the CDN
// routes the name to the pool); any other server, and the CDN address
// probed bare or with another name, refutes. Each target is answered once.
type modelProber struct {
	mu    sync.Mutex // the engine may call back from several goroutines
	pools map[probe.Target]bool
	asked []probe.Target
	done  map[probe.Target]bool
}

func (m *modelProber) SubmitTarget(t probe.Target) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done[t] {
		return false
	}
	m.done[t] = true
	m.asked = append(m.asked, t)
	return true
}

func (m *modelProber) answer(st *intel.Store, now int64) {
	m.mu.Lock()
	asked := m.asked
	m.asked = nil
	m.mu.Unlock()
	for _, t := range asked {
		ev := intel.Evidence{At: time.UnixMilli(now), Protocol: "model", Excerpt: "eval's model of the prober", Name: t.Name}
		if t.Name != "" {
			ev.TLS = true
		}
		if m.pools[t] {
			st.Confirm(t.Endpoint, ev)
		} else {
			st.Refute(t.Endpoint, ev)
		}
	}
}

// poolEndpoints are the scenario's pool servers as a probe reaches them:
// by their own address, or by domain (SNI) at the shared CDN address.
func poolEndpoints(s *sim.Scenario) map[probe.Target]bool {
	out := map[probe.Target]bool{}
	for _, p := range s.Pools {
		if a, err := netip.ParseAddr(p.Addr); err == nil {
			out[probe.Target{Endpoint: netip.AddrPortFrom(a, p.Port)}] = true
		} else if p.Domain != "" && p.TLS && s.CDN != "" {
			out[probe.Target{Endpoint: netip.AddrPortFrom(netip.MustParseAddr(s.CDN), p.Port), Name: p.Domain}] = true
		}
	}
	return out
}

func tabulate(rate string, truth []sim.Truth, out map[netip.Addr]*hostOutcome) ([]Row, []string, map[string]int, map[string]int) {
	groups, sgroups := map[string]int{}, map[string]int{}
	type acc struct {
		miners, detected, classOK int
		ttf, ttfRec               []float64
	}
	by := map[string]*acc{}
	all := &acc{}
	negatives, fp, suspects := 0, 0, 0
	var fps []string
	for i := range truth {
		t := &truth[i]
		o := out[netip.MustParseAddr(t.IP)]
		if !t.Mining() {
			negatives++
			if o != nil && o.suspect {
				suspects++
				sgroups[t.Kind+" "+strings.Join(t.Ordinary, "+")+" on "+o.suspectOn]++
			}
			if o != nil && o.flagged && !(t.Class == "research" && o.class == "research") {
				fp++
				groups[t.Kind+" "+strings.Join(t.Ordinary, "+")]++
				if len(fps) < 10 {
					fps = append(fps, t.IP+" ("+strings.Join(t.Ordinary, "+")+"): "+o.why)
				}
			}
			continue
		}
		a := by[t.Behaviour]
		if a == nil {
			a = &acc{}
			by[t.Behaviour] = a
		}
		for _, x := range []*acc{a, all} {
			x.miners++
			if o != nil && o.flagged {
				x.detected++
				x.ttf = append(x.ttf, max(0, float64(o.flaggedAt-t.Episodes[0].Start)/1000))
				since := o.flaggedAt // flagged before any record of the episode arrived: 0
				if o.firstRec > 0 {
					since = o.firstRec
				}
				x.ttfRec = append(x.ttfRec, max(0, float64(o.flaggedAt-since)/1000))
				if o.class == t.Class {
					x.classOK++
				}
			}
		}
	}
	row := func(name string, a *acc) Row {
		r := Row{Rate: rate, Behaviour: name, Miners: a.miners, Detected: a.detected, FPHosts: fp, Negatives: negatives,
			TTFMedian: -1, TTFP90: -1, TTFRecordMedian: -1, TTFRecordP90: -1, SuspectHosts: suspects}
		if a.miners > 0 {
			r.DetectionRate = float64(a.detected) / float64(a.miners)
		}
		if negatives > 0 {
			r.FPRate = float64(fp) / float64(negatives)
		}
		if a.detected+fp > 0 {
			r.Precision = float64(a.detected) / float64(a.detected+fp)
		}
		if r.Precision+r.DetectionRate > 0 {
			r.F1 = 2 * r.Precision * r.DetectionRate / (r.Precision + r.DetectionRate)
		}
		if len(a.ttf) > 0 {
			r.TTFMedian, r.TTFP90 = medianP90(a.ttf)
		}
		if len(a.ttfRec) > 0 {
			r.TTFRecordMedian, r.TTFRecordP90 = medianP90(a.ttfRec)
		}
		if a.miners > 0 {
			n := 0
			for _, t := range a.ttf {
				if t <= 7200 {
					n++
				}
			}
			r.Within2h = float64(n) / float64(a.miners)
		}
		if a.detected > 0 {
			r.ClassAccuracy = float64(a.classOK) / float64(a.detected)
		}
		return r
	}
	var names []string
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	var rows []Row
	for _, n := range names {
		rows = append(rows, row(n, by[n]))
	}
	rows = append(rows, row("overall", all))
	return rows, fps, groups, sgroups
}

// medianP90 sorts xs (not empty) and returns its median and 90th percentile.
func medianP90(xs []float64) (float64, float64) {
	slices.Sort(xs)
	return xs[len(xs)/2], xs[min(len(xs)-1, int(float64(len(xs))*0.9))]
}
