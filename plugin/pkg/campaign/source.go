package campaign

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Source reads the campaign's series from VictoriaMetrics (single node, or a
// vmselect / vmauth prefix) through client_golang's API client. Every query
// it sends is confined to the admin scope.
type Source struct {
	API         v1.API
	Config      Config
	ScopeUnits  []string // admin scope; empty = all units
	HidePersons bool
	// Dispositions is the case store the tracker and review read
	// dispositions from; nil means none are recorded.
	Dispositions DispositionStore
	// Assets is the asset ledger the tracker takes device and person from
	// (the exporter's series carry them only with metrics.personal_labels).
	Assets AssetDirectory
	// Energy is the energy definition's figures (zero = DefaultEnergy()).
	Energy EnergyConfig
	// Devices gives the device key of IPs traced to a MAC or an account
	// (the case store); nil: every IP is its own device.
	Devices DeviceStore
	URL     string // for error messages: which VictoriaMetrics could not be reached
}

// SourceOptions say where VictoriaMetrics is, how to authenticate, and the
// admin scope.
type SourceOptions struct {
	URL                                           string
	BasicAuthUser, BasicAuthPassword, BearerToken string
	ScopeUnits                                    []string
	HidePersons                                   bool
}

// NewSource is the one constructor of a campaign source: the Grafana
// datasource and the minewatch CLI (review, tracker) both call it, so they
// read the same series with the same definition (DefaultConfig).
func NewSource(o SourceOptions) (*Source, error) {
	if err := CheckUnits(o.ScopeUnits); err != nil {
		return nil, fmt.Errorf("scopeUnits: %w", err)
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("VictoriaMetrics URL %q: want http(s)://host:port[/prefix]", o.URL)
	}
	client, err := api.NewClient(api.Config{
		Address:      strings.TrimRight(o.URL, "/"),
		RoundTripper: authTransport{base: http.DefaultTransport, o: o},
	})
	if err != nil {
		return nil, fmt.Errorf("VictoriaMetrics URL: %w", err)
	}
	return &Source{API: v1.NewAPI(client), Config: DefaultConfig(), ScopeUnits: o.ScopeUnits, HidePersons: o.HidePersons, URL: o.URL}, nil
}

// authTransport adds the credentials to every request.
type authTransport struct {
	base http.RoundTripper
	o    SourceOptions
}

func (a authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	switch {
	case a.o.BearerToken != "":
		r.Header.Set("Authorization", "Bearer "+a.o.BearerToken)
	case a.o.BasicAuthUser != "":
		r.SetBasicAuth(a.o.BasicAuthUser, a.o.BasicAuthPassword)
	}
	return a.base.RoundTrip(r)
}

// Filter narrows a table to units, sectors or districts (empty = all).
// Under keeps the units at or below the given units in the ledger's parent
// chain (a district or bureau with everything under it).
type Filter struct {
	Units, Sectors, Districts []string
	Under                     []string
}

// Stats tells what a table cost: the queries sent, for the query inspector.
type Stats struct {
	Queries   []string
	Durations []time.Duration // time of each query, request to decoded response
}

func (st *Stats) took(start time.Time) {
	if st != nil {
		st.Durations = append(st.Durations, time.Since(start))
	}
}

func (st *Stats) add(q string) {
	if st != nil {
		st.Queries = append(st.Queries, q)
	}
}

// Executed is the queries joined for Grafana's query inspector.
func (st *Stats) Executed() string {
	if st == nil {
		return ""
	}
	return strings.Join(st.Queries, "\n")
}

// dur renders a duration for a range selector in whole seconds (at least 1s).
func dur(d time.Duration) string { return strconv.FormatInt(seconds(d), 10) + "s" }

// seconds is d in whole seconds, rounded up, at least 1.
func seconds(d time.Duration) int64 { return max(1, int64(math.Ceil(d.Seconds()))) }

// ErrUnreachable wraps a failure to reach VictoriaMetrics at all (nothing
// listening, name not found, timeout): the query text is no help there.
var ErrUnreachable = errors.New("VictoriaMetrics unreachable")

// UnreachableError says which VictoriaMetrics could not be reached and why.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("无法连接 VictoriaMetrics %s (VictoriaMetrics unreachable): %v", e.URL, e.Err)
}

func (e *UnreachableError) Unwrap() []error { return []error{ErrUnreachable, e.Err} }

// queryError tells a transport failure (VictoriaMetrics not reached) from a
// failed query (the query text matters).
func (s *Source) queryError(q string, err error) error {
	var op *net.OpError
	var dns *net.DNSError
	var ue *url.Error
	if errors.As(err, &op) || errors.As(err, &dns) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ue) && ue.Timeout()) {
		root := err
		if op != nil {
			root = op.Err
		} else if dns != nil {
			root = dns
		}
		return &UnreachableError{URL: s.URL, Err: root}
	}
	return fmt.Errorf("query %s: %w", q, err)
}

func (s *Source) instant(ctx context.Context, st *Stats, q string, at time.Time) (model.Value, error) {
	st.add(fmt.Sprintf("%s @ %s", q, at.UTC().Format(time.RFC3339)))
	defer st.took(time.Now())
	v, _, err := s.API.Query(ctx, q, at)
	if err != nil {
		return nil, s.queryError(q, err)
	}
	return v, nil
}

func (s *Source) rangeQuery(ctx context.Context, st *Stats, q string, r v1.Range) (model.Matrix, error) {
	st.add(fmt.Sprintf("%s [%s, %s, step %s]", q, r.Start.UTC().Format(time.RFC3339), r.End.UTC().Format(time.RFC3339), r.Step))
	defer st.took(time.Now())
	v, _, err := s.API.QueryRange(ctx, q, r)
	if err != nil {
		return nil, s.queryError(q, err)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("query %s: got %s, want a matrix", q, v.Type())
	}
	return m, nil
}

// Resolve turns the admin scope and a filter into the scope of one request,
// and returns the ledger's units inside it. Sector and district filters are
// applied to the ledger (minewatch_unit_info) here, never put into query text.
func (s *Source) Resolve(ctx context.Context, st *Stats, f Filter, at time.Time, window time.Duration) (Scope, map[string]UnitMeta, error) {
	if err := CheckUnits(f.Under); err != nil {
		return Scope{}, nil, err
	}
	// Under needs the whole chain: read the ledger in the admin scope and
	// narrow to f.Units in Go below.
	narrow := f.Units
	if len(f.Under) > 0 {
		narrow = nil
	}
	sc, err := NewScope(s.ScopeUnits, narrow)
	if err != nil {
		return Scope{}, nil, err
	}
	if sc.Empty() {
		return sc, map[string]UnitMeta{}, nil
	}
	// The value is the time of each label set's last sample: when the ledger
	// renamed or moved a unit within the window, the newest entry wins.
	q := fmt.Sprintf("max by (unit, name, sector, parent) (tlast_over_time(%s[%s]))", sc.Selector("minewatch_unit_info"), dur(window))
	v, err := s.instant(ctx, st, q, at)
	if err != nil {
		return Scope{}, nil, err
	}
	units := map[string]UnitMeta{}
	seen := map[string]float64{}
	for _, smp := range asVector(v) {
		id := string(smp.Metric["unit"])
		if !sc.Allows(id) { // belt and braces: the selector already restricts
			continue
		}
		if last, ok := seen[id]; ok && float64(smp.Value) < last {
			continue
		}
		seen[id] = float64(smp.Value)
		units[id] = UnitMeta{ID: id, Name: string(smp.Metric["name"]), Sector: string(smp.Metric["sector"]), District: string(smp.Metric["parent"])}
	}
	// A district's name, from the ledger read before the filters below (they
	// may leave the district's own unit out).
	for id, m := range units {
		if p, ok := units[m.District]; ok {
			m.DistrictName = p.Name
			units[id] = m
		}
	}
	if len(f.Sectors) == 0 && len(f.Districts) == 0 && len(f.Under) == 0 {
		return sc, units, nil
	}
	sectors, districts, only := set(f.Sectors), set(f.Districts), set(narrow)
	if len(f.Under) > 0 {
		only = set(f.Units)
	}
	all := make(map[string]UnitMeta, len(units)) // the chain, before narrowing
	for id, m := range units {
		all[id] = m
	}
	under := func(id string) bool {
		for _, root := range f.Under {
			if Within(all, id, root) {
				return true
			}
		}
		return len(f.Under) == 0
	}
	var ids []string
	for id, m := range units {
		if (len(sectors) == 0 || sectors[m.Sector]) && (len(districts) == 0 || districts[m.District]) &&
			(len(only) == 0 || only[id]) && under(id) {
			ids = append(ids, id)
		} else {
			delete(units, id)
		}
	}
	return Scope{Units: uniqSorted(ids)}, units, nil
}

// nameDistricts gives units whose district was not read with them (f.Units
// narrowed the ledger read to the units themselves) their district's name:
// one more read of the ledger, for those districts, within the admin scope.
func (s *Source) nameDistricts(ctx context.Context, st *Stats, f Filter, units map[string]UnitMeta, at time.Time, window time.Duration) error {
	if len(f.Units) == 0 {
		return nil
	}
	var missing []string
	for _, m := range units {
		if m.District != "" && m.DistrictName == "" {
			missing = append(missing, m.District)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sc, err := NewScope(s.ScopeUnits, uniqSorted(missing))
	if err != nil || sc.Empty() {
		return nil // a district outside the admin scope keeps its id alone
	}
	q := fmt.Sprintf("max by (unit, name) (tlast_over_time(%s[%s]))", sc.Selector("minewatch_unit_info"), dur(window))
	v, err := s.instant(ctx, st, q, at)
	if err != nil {
		return err
	}
	names, newest := map[string]string{}, map[string]float64{}
	for _, smp := range asVector(v) { // the newest name when the ledger renamed a district
		id := string(smp.Metric["unit"])
		if last, ok := newest[id]; sc.Allows(id) && (!ok || float64(smp.Value) > last) {
			newest[id], names[id] = float64(smp.Value), string(smp.Metric["name"])
		}
	}
	for id, m := range units {
		if n := names[m.District]; n != "" && m.DistrictName == "" {
			m.DistrictName = n
			units[id] = m
		}
	}
	return nil
}

func set(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		if x != "" {
			m[x] = true
		}
	}
	return m
}

func asVector(v model.Value) model.Vector {
	if vec, ok := v.(model.Vector); ok {
		return vec
	}
	return nil
}

// alignDown and alignUp put the evaluation grid on multiples of the step so
// that buckets are whole hours whatever the zone offset.
func alignDown(t time.Time, step time.Duration) time.Time { return t.Truncate(step) }
func alignUp(t time.Time, step time.Duration) time.Time {
	if d := t.Truncate(step); d.Equal(t) {
		return t
	} else {
		return d.Add(step)
	}
}

// FlaggedQuery is the MetricsQL that finds flagged buckets: per IP, whether
// minewatch_host_mining was 1 at any moment of each step, points returned
// only where it was.
func FlaggedQuery(sc Scope, step time.Duration) string {
	return flaggedExpr(sc.Selector("minewatch_host_mining"), step, "")
}

// flaggedExpr is the one text of "flagged in the bucket": evaluated at t (or,
// with at, at the Unix time at), whether the selected series was 1 at some
// moment of (t-step, t].
func flaggedExpr(selector string, step time.Duration, at string) string {
	if at != "" {
		at = " @ " + at
	}
	return fmt.Sprintf("max by (ip, unit) (max_over_time(%s[%s]%s)) > 0", selector, dur(step), at)
}

// BucketEnd is the end of the bucket that contains t: t itself on a bucket
// boundary (an exact hour H is in (H-1h, H]), else the next boundary. The
// tracker reads flagged time up to BucketEnd(to) (histories), so its state
// at t is about this bucket.
func BucketEnd(t time.Time, step time.Duration) time.Time { return alignUp(t, step) }

// EvalTimeQuery is a query's own evaluation time, to the second, as a
// query (one sample, Unix seconds): the moment an alert annotation's state
// is as of, which the email prints as 数据时间. Whole seconds, because that
// is what the email shows: the state (BucketEndQuery) is taken at the same
// second, so a reader, or the demo, comparing with the tracker at the printed
// time compares like with like even a fraction of a second after the hour.
// (VictoriaMetrics may move a query's time back by its -search.latencyOffset
// when it is that close to now; asking the time from the query, not from
// vmalert, prints the time the data were read at.)
const EvalTimeQuery = "floor(vector(time()))"

// BucketEndQuery is BucketEnd of EvalTimeQuery, as a query (one sample, Unix
// seconds): what an alert annotation runs first to learn the bucket of its
// round. An instant vector, not a scalar, as vmalert's and promtool's
// template queries want (and PromQL's ceil and floor take one).
func BucketEndQuery(step time.Duration) string {
	s := seconds(step)
	return fmt.Sprintf("ceil(%s / %d) * %d", EvalTimeQuery, s, s)
}

// MiningNowQuery is the query behind "mining now at T" (StateAt's
// miningNow, the tracker's 当前挖矿, the email's 当前状态): the series of
// selector flagged in the bucket (BucketEnd(T)-step, BucketEnd(T)], the
// same expression as FlaggedQuery, evaluated at the bucket's end through
// the @ modifier. end is the bucket end in Unix seconds, as text (a number,
// or a printf verb for a template to fill with BucketEndQuery's value). It
// returns a sample exactly when the IP is mining now.
//
// A sliding window ending at T (max_over_time(...[1h]) at T) is not the
// same thing: between the end of an IP's last flagged bucket and an hour
// later it still sees the old bucket while the tracker's bucket is empty.
func MiningNowQuery(selector string, step time.Duration, end string) string {
	return flaggedExpr(selector, step, end)
}

// maxSteps bounds the points of one range query per series, well under
// VictoriaMetrics' -search.maxPointsPerTimeseries (30,000 by default).
const maxSteps = 10000

// histories fetches flagged runs and dispositions for [from, to] in hour
// buckets (cfg.Step) throughout: a coarser grid would shift episode
// boundaries and so the quiet period, relapses and deadlines. Dispositions
// come from the case store (Dispositions), never from VictoriaMetrics.
func (s *Source) histories(ctx context.Context, st *Stats, sc Scope, from, to time.Time) ([]HostHistory, error) {
	cfg := s.Config.withDefaults()
	start, end := alignDown(from, cfg.Step).Add(cfg.Step), alignUp(to, cfg.Step)
	type result struct {
		v   model.Value
		err error
		st  Stats
	}
	var jobs []func(*Stats) (model.Value, error)
	for cs := start; !cs.After(end); cs = cs.Add(maxSteps * cfg.Step) {
		r := v1.Range{Start: cs, End: minTime(cs.Add((maxSteps-1)*cfg.Step), end), Step: cfg.Step}
		jobs = append(jobs, func(st *Stats) (model.Value, error) { return s.rangeQuery(ctx, st, FlaggedQuery(sc, cfg.Step), r) })
	}
	res := make([]result, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i].v, res[i].err = job(&res[i].st)
		}()
	}
	var disps []Disposition
	var errDisp error
	if s.Dispositions != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			disps, errDisp = s.Dispositions.Dispositions(ctx, sc, from, end)
		}()
	}
	wg.Wait()
	if errDisp != nil {
		return nil, errDisp
	}
	for i := range res {
		if res[i].err != nil {
			return nil, res[i].err
		}
		if st != nil {
			st.Queries = append(st.Queries, res[i].st.Queries...)
			st.Durations = append(st.Durations, res[i].st.Durations...)
		}
	}
	byHost := map[HostKey]*HostHistory{}
	var order []HostKey
	get := func(k HostKey) *HostHistory {
		h := byHost[k]
		if h == nil {
			h = &HostHistory{HostKey: k}
			byHost[k] = h
			order = append(order, k)
		}
		return h
	}
	for _, r := range res {
		m, _ := r.v.(model.Matrix)
		for _, ss := range m {
			k := HostKey{IP: string(ss.Metric["ip"]), Unit: string(ss.Metric["unit"])}
			if !sc.Allows(k.Unit) {
				continue
			}
			ts := make([]time.Time, 0, len(ss.Values))
			for _, p := range ss.Values {
				ts = append(ts, p.Timestamp.Time())
			}
			h := get(k)
			h.Runs = MergeRuns(h.Runs, Runs(ts, cfg.Step))
		}
	}
	for _, d := range disps {
		h := byHost[HostKey{IP: d.IP, Unit: d.Unit}]
		if h == nil || !sc.Allows(d.Unit) {
			continue // a disposition of an IP never flagged in the window has no case here
		}
		if s.HidePersons {
			d = d.WithoutPersons()
		}
		h.Dispositions = append(h.Dispositions, d)
	}
	out := make([]HostHistory, 0, len(order))
	for _, k := range order {
		out = append(out, *byHost[k])
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Unit != out[j].Unit {
			return out[i].Unit < out[j].Unit
		}
		return lessIP(out[i].IP, out[j].IP)
	})
	return out, nil
}

// HistoryStart is where the flagged history of a table whose earliest
// moment of interest is from begins: cfg.Lookback before it, so that every
// episode counted in the relapse window knows whether it was a relapse, and
// the tracker and the weekly review agree.
func HistoryStart(cfg Config, from time.Time) time.Time {
	return from.Add(-cfg.withDefaults().Lookback)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Tracker computes the IP清零 tracker for [from, to], judged at to.
func (s *Source) Tracker(ctx context.Context, f Filter, states []string, from, to time.Time, st *Stats) ([]TrackerRow, error) {
	cfg := s.Config.withDefaults()
	for _, x := range states {
		if !ValidState(x) {
			return nil, fmt.Errorf("%w: bad state %q: want mining, quiet, cleared or relapsed", ErrBadInput, x)
		}
	}
	histFrom := HistoryStart(cfg, to)
	if ff := from.Add(-cfg.Quiet); ff.Before(histFrom) { // a range longer than the look-back
		histFrom = ff
	}
	sc, units, err := s.Resolve(ctx, st, f, to, to.Sub(histFrom))
	if err != nil || sc.Empty() {
		return nil, err
	}
	// The flagged history and the per-IP details are independent: fetch both at once.
	var (
		hosts      []HostHistory
		details    map[HostKey]HostDetail
		errH, errD error
		stH, stD   Stats
		wg         sync.WaitGroup
	)
	wg.Add(2)
	go func() { defer wg.Done(); hosts, errH = s.histories(ctx, &stH, sc, histFrom, to) }()
	go func() { defer wg.Done(); details, errD = s.details(ctx, &stD, sc, from, to, histFrom) }()
	wg.Wait()
	if errH != nil {
		return nil, errH
	}
	if errD != nil {
		return nil, errD
	}
	if st != nil {
		st.Queries = append(append(st.Queries, stH.Queries...), stD.Queries...)
		st.Durations = append(append(st.Durations, stH.Durations...), stD.Durations...)
	}
	if s.Assets != nil {
		keys := make([]HostKey, len(hosts))
		for i, h := range hosts {
			keys[i] = h.HostKey
		}
		withAssets(details, s.Assets, keys)
	}
	var devices map[HostKey]string
	if s.Devices != nil {
		if devices, err = s.Devices.DeviceKeys(ctx, sc); err != nil {
			return nil, err
		}
	}
	return Tracker(cfg, TrackerInput{From: from, To: to, Hosts: hosts, Details: details, Units: units, States: states, HidePersons: s.HidePersons, Devices: devices, Energy: s.Energy}), nil
}

// details fetches class, score, machines, pools and the asset ledger of the
// IPs in scope, aggregated server-side to one value per IP.
func (s *Source) details(ctx context.Context, st *Stats, sc Scope, from, to, histFrom time.Time) (map[HostKey]HostDetail, error) {
	w, wh := dur(to.Sub(from)), dur(to.Sub(histFrom))
	queries := []string{
		fmt.Sprintf("max by (ip, unit, class) (tlast_over_time(%s[%s]))", sc.Selector("minewatch_host_mining"), w),
		fmt.Sprintf("max by (ip, unit) (max_over_time(%s[%s]))", sc.Selector("minewatch_host_score"), w),
		fmt.Sprintf("max by (ip, unit) (max_over_time(%s[%s]))", sc.Selector("minewatch_host_machines"), w),
		fmt.Sprintf("max by (ip, unit, pool, coin) (increase(%s[%s])) > 0", sc.Selector("minewatch_pool_contacts_total"), w),
		fmt.Sprintf("max by (ip, unit, asset, kind, location, department, owner, research) (last_over_time(%s[%s]))", sc.Selector("minewatch_host_info"), wh),
	}
	results := make([]model.Vector, len(queries))
	errs := make([]error, len(queries))
	subs := make([]Stats, len(queries))
	var wg sync.WaitGroup
	for i, q := range queries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.instant(ctx, &subs[i], q, to)
			results[i], errs[i] = asVector(v), err
		}()
	}
	wg.Wait()
	for i := range queries {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if st != nil {
			st.Queries = append(st.Queries, subs[i].Queries...)
			st.Durations = append(st.Durations, subs[i].Durations...)
		}
	}
	out := map[HostKey]HostDetail{}
	key := func(m model.Metric) HostKey { return HostKey{IP: string(m["ip"]), Unit: string(m["unit"])} }
	classAt := map[HostKey]float64{}
	for _, smp := range results[0] {
		k := key(smp.Metric)
		if t := float64(smp.Value); t >= classAt[k] {
			d := out[k]
			d.Class, classAt[k] = string(smp.Metric["class"]), t
			out[k] = d
		}
	}
	for _, smp := range results[1] {
		d := out[key(smp.Metric)]
		d.MaxScore = float64(smp.Value)
		out[key(smp.Metric)] = d
	}
	for _, smp := range results[2] {
		d := out[key(smp.Metric)]
		d.Machines = float64(smp.Value)
		out[key(smp.Metric)] = d
	}
	for _, smp := range results[3] {
		k := key(smp.Metric)
		d := out[k]
		d.Pools = addUniq(d.Pools, string(smp.Metric["pool"]))
		d.Coins = addUniq(d.Coins, string(smp.Metric["coin"]))
		out[k] = d
	}
	for _, smp := range results[4] {
		k := key(smp.Metric)
		d := out[k]
		d.Asset, d.Kind, d.Location = string(smp.Metric["asset"]), string(smp.Metric["kind"]), string(smp.Metric["location"])
		d.Department, d.Owner = string(smp.Metric["department"]), string(smp.Metric["owner"])
		d.Research = smp.Metric["research"] == "true"
		out[k] = d
	}
	for k, d := range out {
		sort.Strings(d.Pools)
		sort.Strings(d.Coins)
		out[k] = d
	}
	return out, nil
}

func addUniq(xs []string, x string) []string {
	if x == "" {
		return xs
	}
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

// WeeklyReview computes the review of one ISO week per unit, judged at the
// end of the week or at now when the week is still running.
func (s *Source) WeeklyReview(ctx context.Context, f Filter, week Week, now time.Time, st *Stats) ([]ReviewRow, error) {
	r, err := s.Review(ctx, f, LevelUnit, week, now, st)
	return r.Rows, err
}

// TrendWeeks is how many weeks the review's trend shows (this week included).
const TrendWeeks = 8

// Review is the weekly review with what the meeting pack shows around it.
type Review struct {
	Week     Week
	Level    Level
	JudgedAt time.Time
	Running  bool
	Rows     []ReviewRow         // at Level, then the total row
	Units    []ReviewRow         // per unit, then the total row (Rows at LevelUnit)
	Repeat   []ReviewRow         // repeat-offender units (RepeatOffenders)
	Trend    []TrendPoint        // TrendWeeks weeks ending with Week, oldest first
	Ledger   map[string]UnitMeta // the units in the filter
	Energy   EnergyConfig        // the figures the energy columns used
}

// TrendPoint is the total row of one week of the trend.
type TrendPoint struct {
	Week Week
	ReviewRow
}

// Review computes the weekly review at a roll-up level, with the per-unit
// rows, the repeat offenders and the trend of the TrendWeeks weeks up to
// week, all from one read of the history (the same definition as the
// per-unit review: the trend's weeks are reviews of earlier weeks).
func (s *Source) Review(ctx context.Context, f Filter, level Level, week Week, now time.Time, st *Stats) (Review, error) {
	cfg := s.Config.withDefaults()
	loc := cfg.Location
	en := s.Energy
	if en == (EnergyConfig{}) {
		en = DefaultEnergy()
	}
	if err := en.Validate(); err != nil {
		return Review{}, err
	}
	if _, err := ParseLevel(string(level)); err != nil {
		return Review{}, err
	}
	at := JudgedAt(week, now, loc)
	first := week
	for i := 1; i < TrendWeeks; i++ {
		first = first.Prev(loc)
	}
	histFrom := reviewHistoryStart(cfg, first, now)
	if h := reviewHistoryStart(cfg, week, now); h.Before(histFrom) {
		histFrom = h
	}
	out := Review{Week: week, Level: level, JudgedAt: at, Running: Running(week, now, loc), Energy: en}
	sc, units, err := s.Resolve(ctx, st, f, at, at.Sub(histFrom))
	if err == nil {
		err = s.nameDistricts(ctx, st, f, units, at, at.Sub(histFrom)) // the review shows each unit's district by name
	}
	if err != nil {
		return Review{}, err
	}
	out.Ledger = units
	var hosts []HostHistory
	var details map[HostKey]HostDetail
	var devices map[HostKey]string
	if !sc.Empty() {
		if hosts, err = s.histories(ctx, st, sc, histFrom, at); err != nil {
			return Review{}, err
		}
		// machines, coins and asset kind of the week: the energy columns
		if details, err = s.details(ctx, st, sc, week.Start(loc), at, histFrom); err != nil {
			return Review{}, err
		}
		// the device of IPs traced to a MAC or an account: the counts by device
		if s.Devices != nil {
			if devices, err = s.Devices.DeviceKeys(ctx, sc); err != nil {
				return Review{}, err
			}
		}
	}
	// Each week sees the history a review of that week alone would read
	// (reviewHistoryStart), so this week's rows equal the plain review's.
	review := func(w Week) []ReviewRow {
		from := reviewHistoryStart(cfg, w, now)
		return WeeklyReview(cfg, ReviewInput{Week: w, Now: now, Hosts: since(hosts, from), Units: units, Details: details, Energy: en, Devices: devices})
	}
	out.Units = review(week)
	out.Rows = RollUp(out.Units, units, level)
	out.Repeat = RepeatOffenders(out.Units)
	for w, i := first, 0; i < TrendWeeks; w, i = nextWeek(w, loc), i+1 {
		rows := out.Units
		if w != week {
			rows = review(w)
		}
		out.Trend = append(out.Trend, TrendPoint{Week: w, ReviewRow: rows[len(rows)-1]})
	}
	return out, nil
}

// reviewHistoryStart is where the history of one week's review begins: the
// look-back before its judgement moment, or the quiet period before the
// previous week when that is earlier.
func reviewHistoryStart(cfg Config, w Week, now time.Time) time.Time {
	loc := cfg.Location
	at := JudgedAt(w, now, loc)
	from := HistoryStart(cfg, at)
	if ps := w.Prev(loc).Start(loc); ps.Before(at) && ps.Add(-cfg.Quiet).Before(from) {
		from = ps.Add(-cfg.Quiet)
	}
	return from
}

// since cuts flagged history before from, as a read starting there would.
func since(hosts []HostHistory, from time.Time) []HostHistory {
	out := make([]HostHistory, 0, len(hosts))
	for _, h := range hosts {
		var runs []Interval
		for _, r := range h.Runs {
			if !r.End.After(from) {
				continue
			}
			if r.Start.Before(from) {
				r.Start = from
			}
			runs = append(runs, r)
		}
		h.Runs = runs
		out = append(out, h)
	}
	return out
}

func nextWeek(w Week, loc *time.Location) Week { return WeekOf(w.End(loc).Add(time.Hour), loc) }

// SituationPoint is one group's count of mining IPs at a moment.
type SituationSeries struct {
	Group  string // unit id, sector, district or "total"
	Times  []time.Time
	Values []float64
}

// SituationStep is the step Situation evaluates its counts at when asked for
// step: never under a minute. The datasource tells Grafana this step.
func SituationStep(step time.Duration) time.Duration { return max(step, time.Minute) }

// reportingWindow is the shortest look-back of a situation count: a host
// counts as mining at t when it was flagged within it, a unit as reported
// when its ledger info (written with every push, by default each 15 s) was;
// a few missed pushes neither clear a host nor make a count unknown.
const reportingWindow = 15 * time.Minute

// Situation counts mining IPs over [from, to] per unit, sector, district or
// in total. The per-unit count is computed server-side; sectors and districts
// are summed here from the ledger so that no join can fail on duplicates.
func (s *Source) Situation(ctx context.Context, f Filter, groupBy string, from, to time.Time, step time.Duration, st *Stats) ([]SituationSeries, error) {
	switch groupBy {
	case "", "unit", "sector", "district", "total":
	default:
		return nil, fmt.Errorf("%w: bad groupBy %q: want unit, sector, district or total", ErrBadInput, groupBy)
	}
	step = SituationStep(step)
	sc, units, err := s.Resolve(ctx, st, f, to, to.Sub(from)+s.Config.withDefaults().Lookback)
	if err != nil || sc.Empty() {
		return nil, err
	}
	// A unit that the exporter reported (its ledger info) but none of whose
	// hosts was mining counts 0, not nothing: zero mining IPs is what the
	// campaign works for (IP清零), and its trend must show it. Where the
	// exporter wrote nothing for the unit, the count stays unknown (a gap).
	// Both look back over the same window, at least reportingWindow, so that
	// a step shorter than the pushes never reads a mining host as 0.
	//
	// A district (a ledger entry that is the parent of another) reports its
	// ledger info too, but it is no unit being cleared: its 0 would show as a
	// clean unit in the unit ranking and as a group of its own sector. So the
	// 0 is given only to entries that no reported entry names as parent at
	// that moment; the parents are read in the admin scope, not the filter,
	// so that a filter naming the district alone still knows it is one. Mining
	// hosts listed on the district itself (a shared egress) still count.
	win := dur(max(step, reportingWindow))
	admin, err := NewScope(s.ScopeUnits, nil)
	if err != nil {
		return nil, err
	}
	q := fmt.Sprintf("sum by (unit) (max by (ip, unit) (max_over_time(%s[%s]))) or on (unit) "+
		"(0 * (max by (unit) (max_over_time(%s[%s])) unless on (unit) label_replace(max by (parent) (max_over_time(%s[%s])), \"unit\", \"$1\", \"parent\", \"(.+)\")))",
		sc.Selector("minewatch_host_mining"), win, sc.Selector("minewatch_unit_info"), win, admin.Selector("minewatch_unit_info"), win)
	m, err := s.rangeQuery(ctx, st, q, v1.Range{Start: alignDown(from, step), End: to, Step: step})
	if err != nil {
		return nil, err
	}
	groups := map[string]map[int64]float64{}
	for _, ss := range m {
		u := string(ss.Metric["unit"])
		if !sc.Allows(u) {
			continue
		}
		g := u
		switch groupBy {
		case "sector":
			g = units[u].Sector
		case "district":
			g = units[u].District
		case "total":
			g = TotalUnit
		}
		if g == "" {
			g = "unknown"
		}
		if groups[g] == nil {
			groups[g] = map[int64]float64{}
		}
		for _, p := range ss.Values {
			groups[g][int64(p.Timestamp)] += float64(p.Value)
		}
	}
	if groupBy == "total" && len(groups) == 0 {
		groups[TotalUnit] = map[int64]float64{}
	}
	// Ledger entries outside any sector or district (a unit with no parent)
	// report too; only their mining IPs make an "unknown" group worth a line
	// or a bar.
	if pts, ok := groups["unknown"]; ok && groupBy != "unit" && groupBy != "total" && allZero(pts) {
		delete(groups, "unknown")
	}
	var out []SituationSeries
	for g, pts := range groups {
		ts := make([]int64, 0, len(pts))
		for t := range pts {
			ts = append(ts, t)
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		ser := SituationSeries{Group: g}
		for _, t := range ts {
			ser.Times = append(ser.Times, time.UnixMilli(t))
			ser.Values = append(ser.Values, pts[t])
		}
		out = append(out, ser)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out, nil
}

func allZero(pts map[int64]float64) bool {
	for _, v := range pts {
		if v != 0 {
			return false
		}
	}
	return true
}

// PoolRow is one pool endpoint contacted in the range.
type PoolRow struct {
	Pool, Coin string
	IPs        int
	Contacts   float64
	FirstSeen  time.Time
}

// Pools lists pool endpoints contacted in [from, to] by IPs in scope, with
// the first time each was seen in the history window.
func (s *Source) Pools(ctx context.Context, f Filter, from, to time.Time, st *Stats) ([]PoolRow, error) {
	cfg := s.Config.withDefaults()
	histFrom := HistoryStart(cfg, from)
	sc, _, err := s.Resolve(ctx, st, f, to, to.Sub(histFrom))
	if err != nil || sc.Empty() {
		return nil, err
	}
	sel := sc.Selector("minewatch_pool_contacts_total")
	inc := fmt.Sprintf("max by (ip, pool, coin) (increase(%s[%s])) > 0", sel, dur(to.Sub(from)))
	queries := []string{
		fmt.Sprintf("sum by (pool, coin) (%s)", inc),
		fmt.Sprintf("count by (pool, coin) (%s)", inc),
		fmt.Sprintf("min by (pool, coin) (tfirst_over_time(%s[%s]))", sel, dur(to.Sub(histFrom))),
	}
	res := make([]model.Vector, len(queries))
	for i, q := range queries {
		v, err := s.instant(ctx, st, q, to)
		if err != nil {
			return nil, err
		}
		res[i] = asVector(v)
	}
	type key struct{ pool, coin string }
	rows := map[key]*PoolRow{}
	for _, smp := range res[0] {
		k := key{string(smp.Metric["pool"]), string(smp.Metric["coin"])}
		rows[k] = &PoolRow{Pool: k.pool, Coin: k.coin, Contacts: float64(smp.Value)}
	}
	for _, smp := range res[1] {
		if r := rows[key{string(smp.Metric["pool"]), string(smp.Metric["coin"])}]; r != nil {
			r.IPs = int(smp.Value)
		}
	}
	for _, smp := range res[2] {
		if r := rows[key{string(smp.Metric["pool"]), string(smp.Metric["coin"])}]; r != nil {
			r.FirstSeen = time.Unix(int64(smp.Value), 0)
		}
	}
	out := make([]PoolRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].IPs != out[j].IPs {
			return out[i].IPs > out[j].IPs
		}
		return out[i].Pool < out[j].Pool
	})
	return out, nil
}

// FlaggedIPs lists IPs in scope flagged in [from, to] (for the ips variable).
func (s *Source) FlaggedIPs(ctx context.Context, f Filter, from, to time.Time, st *Stats) ([]HostKey, error) {
	sc, _, err := s.Resolve(ctx, st, f, to, to.Sub(from)+s.Config.withDefaults().Lookback)
	if err != nil || sc.Empty() {
		return nil, err
	}
	q := fmt.Sprintf("max by (ip, unit) (max_over_time(%s[%s])) > 0", sc.Selector("minewatch_host_mining"), dur(to.Sub(from)))
	v, err := s.instant(ctx, st, q, to)
	if err != nil {
		return nil, err
	}
	var out []HostKey
	for _, smp := range asVector(v) {
		k := HostKey{IP: string(smp.Metric["ip"]), Unit: string(smp.Metric["unit"])}
		if sc.Allows(k.Unit) {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return lessIP(out[i].IP, out[j].IP) })
	return out, nil
}

// PersonLabels are labels naming people, blanked when persons are hidden.
var PersonLabels = []model.LabelName{"owner", "lead", "lead_name", "person"}

// Raw runs a user's query (the metricsql query type) confined to the scope:
// a range query when step > 0, else an instant query at to.
func (s *Source) Raw(ctx context.Context, expr string, from, to time.Time, step time.Duration, st *Stats) (model.Value, error) {
	sc, err := NewScope(s.ScopeUnits, nil)
	if err != nil {
		return nil, err
	}
	if s.HidePersons {
		if err := CheckHiddenLabels(expr, HiddenQueryLabels()); err != nil {
			return nil, err
		}
	}
	q, err := ScopeExpr(expr, sc)
	if err != nil {
		return nil, err
	}
	var v model.Value
	if step > 0 {
		v, err = s.rangeQuery(ctx, st, q, v1.Range{Start: from, End: to, Step: step})
	} else {
		v, err = s.instant(ctx, st, q, to)
	}
	if err != nil {
		return nil, err
	}
	if !sc.All {
		v = keepScoped(v, sc)
	}
	if s.HidePersons {
		names, err := s.personValues(ctx, st, to, to.Sub(from)+s.Config.withDefaults().Lookback)
		if err != nil {
			return nil, err
		}
		HideValues(v, PersonLabels, names)
	}
	return v, nil
}

// keepScoped drops any series whose unit label names a unit outside the
// scope (a query may relabel; it cannot read other units' data, but its
// result must not even show their ids).
func keepScoped(v model.Value, sc Scope) model.Value {
	ok := func(m model.Metric) bool {
		u, has := m["unit"]
		return !has || sc.Allows(string(u))
	}
	switch x := v.(type) {
	case model.Matrix:
		out := x[:0]
		for _, ss := range x {
			if ok(ss.Metric) {
				out = append(out, ss)
			}
		}
		return out
	case model.Vector:
		out := x[:0]
		for _, smp := range x {
			if ok(smp.Metric) {
				out = append(out, smp)
			}
		}
		return out
	}
	return v
}

// Units lists the ledger's units in scope.
func (s *Source) Units(ctx context.Context, at time.Time, st *Stats) ([]UnitMeta, error) {
	_, units, err := s.Resolve(ctx, st, Filter{}, at, 30*24*time.Hour)
	if err != nil {
		return nil, err
	}
	out := make([]UnitMeta, 0, len(units))
	for _, u := range units {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
