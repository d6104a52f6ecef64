package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
	"github.com/minewatch/minewatch/plugin/pkg/models"
	"github.com/minewatch/minewatch/plugin/pkg/trace"
)

// Time is a moment as the app's API writes it: RFC 3339 in UTC, null when
// there is none.
type Time struct{ time.Time }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format(time.RFC3339))
}

// CaseView is one case as the app lists it (我的待办) and shows it.
//
// A case the store holds has a numeric id ("12"). An IP that minewatch
// flagged but for which nothing has been recorded yet has no store case:
// its id is "d~<unit>~<ip>" until the first disposition or report opens one
// (then it is listed under the store's id).
type CaseView struct {
	ID         string   `json:"id"`
	IP         string   `json:"ip"`
	IPs        []string `json:"ips"`
	Unit       string   `json:"unit"`
	UnitName   string   `json:"unitName"`
	Source     string   `json:"source"`
	State      string   `json:"state"` // the tracker's state; "" when minewatch has not flagged the IP in the window
	StateLabel string   `json:"stateLabel"`
	DeviceKey  string   `json:"deviceKey"`
	Device     string   `json:"device"`
	Person     string   `json:"person"`
	Opened     Time     `json:"opened"`
	LocateDue  Time     `json:"locateDue"`
	ReportDue  Time     `json:"reportDue"`
	Located    Time     `json:"located"`  // first disposition meeting the locate deadline (located or later)
	Reported   Time     `json:"reported"` // first meeting the report deadline (reported or closed)
	Closed     Time     `json:"closed"`
	Overdue    bool     `json:"overdue"`
	MaxScore   float64  `json:"maxScore"`
	Class      string   `json:"class"` // class of the latest disposition ("" for none)

	storeID int64
	row     *campaign.TrackerRow
}

const detectedPrefix = models.DetectedCasePrefix

func detectedID(unit, ip string) string { return models.DetectedCaseID(unit, ip) }

// parseCaseID splits a case id: a store id, or the unit and IP of a case
// not yet in the store.
func parseCaseID(id string) (storeID int64, unit, ip string, err error) {
	if rest, ok := strings.CutPrefix(id, detectedPrefix); ok {
		unit, ip, ok = strings.Cut(rest, "~")
		if !ok || !campaign.ValidUnit(unit) {
			return 0, "", "", errors.New("bad case id " + strconv.Quote(id))
		}
		if ip, err = casestore.ParseIP(ip); err != nil {
			return 0, "", "", errors.New("bad case id " + strconv.Quote(id))
		}
		return 0, unit, ip, nil
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0, "", "", errors.New("bad case id " + strconv.Quote(id) + ": a number, or d~<unit>~<ip>")
	}
	return n, "", "", nil
}

// nextDue is the deadline the case is next judged by (zero when both are met).
func (v CaseView) nextDue() time.Time {
	switch {
	case v.Located.IsZero() && !v.LocateDue.IsZero():
		return v.LocateDue.Time
	case v.Reported.IsZero() && !v.ReportDue.IsZero():
		return v.ReportDue.Time
	}
	return time.Time{}
}

// met returns the first disposition in [since, until] whose stage is at
// least stage (the tracker judges at until and sees nothing later).
func met(ds []casestore.Disposition, stage string, since, until time.Time) time.Time {
	for _, d := range ds {
		if !d.At.Before(since) && !d.At.After(until) && campaign.StageRank(d.Stage) >= campaign.StageRank(stage) {
			return d.At
		}
	}
	return time.Time{}
}

// caseViews lists the cases of the scope judged at to: every IP the tracker
// shows in [from, to] (with the store case it belongs to, when one exists)
// and every store case of the scope besides.
func (d *Datasource) caseViews(ctx context.Context, sc campaign.Scope, from, to time.Time) ([]CaseView, error) {
	if sc.Empty() {
		return nil, nil
	}
	f := campaign.Filter{}
	if !sc.All {
		f.Units = sc.Units
	}
	rows, err := d.Source.Tracker(ctx, f, nil, from, to, nil)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	if units, err := d.Source.Units(ctx, to, nil); err == nil {
		for _, u := range units {
			names[u.ID] = u.Name
		}
	}
	var stored []casestore.Case
	if d.Store != nil {
		if stored, err = d.Store.Cases(ctx, sc, ""); err != nil {
			return nil, err
		}
	}
	// a notice case opens at its (first) notice's time, from which its deadlines count
	noticed := map[int64]time.Time{}
	if d.Store != nil {
		ns, err := d.Store.Notices(ctx, sc, 0)
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			if t, ok := noticed[n.CaseID]; !ok || n.Notified.Before(t) {
				noticed[n.CaseID] = n.Notified
			}
		}
	}
	opened := func(c casestore.Case) time.Time {
		if t, ok := noticed[c.ID]; ok {
			return t
		}
		return c.Created
	}
	type hk struct{ unit, ip string }
	byIP := map[hk][]int{} // indexes into stored, oldest first
	for i, c := range stored {
		for _, ip := range c.IPs {
			byIP[hk{c.Unit, ip}] = append(byIP[hk{c.Unit, ip}], i)
		}
	}
	used := map[int]bool{}
	timelines := map[int64][]casestore.Disposition{}
	timeline := func(id int64) ([]casestore.Disposition, error) {
		if ds, ok := timelines[id]; ok {
			return ds, nil
		}
		ds, err := d.Store.CaseDispositions(ctx, id)
		timelines[id] = ds
		return ds, err
	}
	var out []CaseView
	for i := range rows {
		r := &rows[i]
		v := CaseView{ID: detectedID(r.Unit, r.IP), IP: r.IP, IPs: []string{r.IP}, Unit: r.Unit, UnitName: r.UnitName,
			Source: casestore.SourceDetected, State: string(r.State), DeviceKey: r.Device, Device: r.Asset, Person: r.Person,
			Opened: Time{r.EpisodeStart}, LocateDue: Time{r.LocateDeadline}, ReportDue: Time{r.ReportDeadline},
			Overdue: r.LocateOverdue || r.ReportOverdue, MaxScore: r.MaxScore, Class: r.DispositionClass, row: r}
		// the store case of the tracker's latest episode: the newest case of
		// the IP still open, or closed after the episode began
		match := -1
		for _, k := range byIP[hk{r.Unit, r.IP}] {
			if c := stored[k]; c.Closed.IsZero() || !c.Closed.Before(r.EpisodeStart) {
				match = k
			}
		}
		if match >= 0 {
			used[match] = true
			c := stored[match]
			ds, err := timeline(c.ID)
			if err != nil {
				return nil, err
			}
			v.ID, v.storeID, v.Source, v.IPs = strconv.FormatInt(c.ID, 10), c.ID, c.Source, c.IPs
			since := r.EpisodeStart
			if !c.LocateDeadline.IsZero() || !c.ReportDeadline.IsZero() { // a notice's deadlines, from the notice time
				since = opened(c)
				v.Opened, v.LocateDue, v.ReportDue = Time{since}, Time{c.LocateDeadline}, Time{c.ReportDeadline}
			}
			v.Located, v.Reported, v.Closed = Time{met(ds, campaign.StageLocated, since, to)}, Time{met(ds, campaign.StageReported, since, to)}, Time{met(ds, campaign.StageClosed, since, to)}
			if since != r.EpisodeStart {
				v.Overdue = overdue(v, to)
			}
			if c.DeviceKey != "" {
				v.DeviceKey = c.DeviceKey
			}
			if v.Device == "" {
				v.Device = c.Device
			}
			if v.Person == "" && !d.Settings.HidePersons {
				v.Person = c.Person
			}
		}
		out = append(out, v)
	}
	for i, c := range stored {
		if used[i] {
			continue
		}
		ds, err := timeline(c.ID)
		if err != nil {
			return nil, err
		}
		since := opened(c)
		if c.Created.Before(since) {
			since = c.Created
		}
		v := CaseView{ID: strconv.FormatInt(c.ID, 10), IP: c.IPs[0], IPs: c.IPs, Unit: c.Unit, UnitName: names[c.Unit], Source: c.Source,
			DeviceKey: c.DeviceKey, Device: c.Device, Person: c.Person,
			Opened: Time{opened(c)}, LocateDue: Time{c.LocateDeadline}, ReportDue: Time{c.ReportDeadline},
			Located: Time{met(ds, campaign.StageLocated, since, to)}, Reported: Time{met(ds, campaign.StageReported, since, to)},
			Closed: Time{met(ds, campaign.StageClosed, since, to)}, storeID: c.ID}
		if len(ds) > 0 {
			v.Class = ds[len(ds)-1].Class
		}
		if d.Settings.HidePersons {
			v.Person = ""
		}
		v.Overdue = overdue(v, to)
		out = append(out, v)
	}
	for i := range out {
		if out[i].State != "" {
			out[i].StateLabel = campaign.CodeLabels("state")[out[i].State]
		}
		if d.Settings.HidePersons && strings.HasPrefix(out[i].DeviceKey, campaign.DeviceKeyAccount) && !strings.HasPrefix(out[i].DeviceKey, campaign.DeviceKeyAccount+"#") {
			out[i].DeviceKey = campaign.DeviceKeyAccount + "（已隐藏 hidden）"
		}
	}
	sortCases(out)
	return out, nil
}

// overdue is the tracker's rule for a case with its own deadlines: a
// deadline passed by at with no disposition of that stage or a later one.
func overdue(v CaseView, at time.Time) bool {
	return (!v.LocateDue.IsZero() && !v.LocateDue.After(at) && v.Located.IsZero()) ||
		(!v.ReportDue.IsZero() && !v.ReportDue.After(at) && v.Reported.IsZero())
}

// sortCases orders by the nearest deadline still to be met (passed ones
// first), then cases with no deadline left, each by id.
func sortCases(vs []CaseView) {
	sort.SliceStable(vs, func(i, j int) bool {
		a, b := vs[i].nextDue(), vs[j].nextDue()
		switch {
		case a.IsZero() != b.IsZero():
			return !a.IsZero()
		case !a.Equal(b):
			return a.Before(b)
		}
		return vs[i].ID < vs[j].ID
	})
}

// listCases serves GET cases.
func (d *Datasource) listCases(ctx context.Context, c Caller, state, unit string, from, to time.Time) ([]CaseView, error) {
	if err := c.mayRead(); err != nil {
		return nil, err
	}
	if state != "" && state != "open" && state != "all" {
		return nil, refuseErr(http.StatusBadRequest, "参数错误 bad state "+strconv.Quote(state)+": open or all")
	}
	sc := c.scope
	if unit != "" {
		if !campaign.ValidUnit(unit) {
			return nil, refuseErr(http.StatusBadRequest, "参数错误 bad unit id "+strconv.Quote(unit))
		}
		if !c.Allows(unit) {
			return nil, refuseErr(http.StatusForbidden, "无权查看 unit "+unit+" is not one of "+c.Login+"'s units")
		}
		sc = campaign.Scope{Units: []string{unit}}
	}
	vs, err := d.caseViews(ctx, sc, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]CaseView, 0, len(vs))
	for _, v := range vs {
		if state == "all" || v.Closed.IsZero() {
			out = append(out, v)
		}
	}
	return out, nil
}

// findCase finds case id among the views of its unit, refusing a case
// outside the caller's units (403) and one that does not exist (404).
func (d *Datasource) findCase(ctx context.Context, c Caller, id string, from, to time.Time) (CaseView, error) {
	if err := c.mayRead(); err != nil {
		return CaseView{}, err
	}
	storeID, unit, ip, err := parseCaseID(id)
	if err != nil {
		return CaseView{}, refuseErr(http.StatusBadRequest, "参数错误 "+err.Error())
	}
	if storeID > 0 {
		if d.Store == nil {
			return CaseView{}, refuseErr(http.StatusNotFound, "无此案件 no case store configured")
		}
		sc, _ := campaign.NewScope(d.Settings.ScopeUnits, nil)
		cs, err := d.Store.Case(ctx, sc, storeID)
		if errors.Is(err, casestore.ErrNotFound) {
			return CaseView{}, refuseErr(http.StatusNotFound, "无此案件 no case "+id)
		}
		if err != nil {
			return CaseView{}, err
		}
		unit = cs.Unit
	}
	if !c.Allows(unit) {
		return CaseView{}, refuseErr(http.StatusForbidden, "无权查看 case "+id+" is not one of "+c.Login+"'s units' cases")
	}
	vs, err := d.caseViews(ctx, campaign.Scope{Units: []string{unit}}, from, to)
	if err != nil {
		return CaseView{}, err
	}
	for _, v := range vs {
		if v.ID == id {
			return v, nil
		}
	}
	if storeID == 0 {
		// opened in the store since the caller listed it (a link in an email
		// names the IP's case this way): the tracker's row of the IP, which
		// carries its store case
		for _, v := range vs {
			if v.row != nil && v.IP == ip {
				return v, nil
			}
		}
		// not flagged in the window: the IP's store case, the open one first,
		// else the newest
		best := -1
		for i, v := range vs {
			if v.storeID == 0 || !slices.Contains(v.IPs, ip) {
				continue
			}
			if b := best; b < 0 || (v.Closed.IsZero() && !vs[b].Closed.IsZero()) ||
				(v.Closed.IsZero() == vs[b].Closed.IsZero() && v.storeID > vs[b].storeID) {
				best = i
			}
		}
		if best >= 0 {
			return vs[best], nil
		}
	}
	return CaseView{}, refuseErr(http.StatusNotFound, "无此案件 no case "+id+" (not flagged in the window and not in the store)")
}

// TimelineEntry is one disposition of a case.
type TimelineEntry struct {
	At         Time   `json:"at"`
	IP         string `json:"ip"`
	Stage      string `json:"stage"`
	StageLabel string `json:"stageLabel"`
	Class      string `json:"class"`
	ClassLabel string `json:"classLabel"`
	Note       string `json:"note"`
	Author     string `json:"author"`
	AuthorRole string `json:"authorRole"`
	Via        string `json:"via"`
}

// NoticeView is an upstream notice of a case.
type NoticeView struct {
	Number     string `json:"number"`
	Egress     string `json:"egress"`
	Window     string `json:"window"` // "<start>/<end>", RFC 3339 UTC (an ISO 8601 interval)
	Start      Time   `json:"start"`
	End        Time   `json:"end"`
	Remote     string `json:"remote"`
	ReceivedAt Time   `json:"receivedAt"` // the notice time (deadlines count from it)
}

// TraceLink is one link of a notice's trace: how the case got from the
// notified address to a host, MAC, account, device and person.
type TraceLink struct {
	Host       string `json:"host,omitempty"` // internal IP the link belongs to ("" for the notice's own links)
	Link       string `json:"link"`
	Value      string `json:"value"`
	How        string `json:"how"`
	Confidence string `json:"confidence"`
}

// ReasonView is one signal behind the score.
type ReasonView struct {
	Signal string  `json:"signal"`
	Label  string  `json:"label"`
	Points float64 `json:"points"`
}

// EvidenceView is what the flag rested on.
type EvidenceView struct {
	Score     float64      `json:"score"`
	Reasons   []ReasonView `json:"reasons"`
	FirstSeen Time         `json:"firstSeen"`
	LastSeen  Time         `json:"lastSeen"`
}

// AttachmentView is a stored file of a case.
type AttachmentView struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"contentType"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	By     string `json:"by"`
	Role   string `json:"byRole"`
	At     Time   `json:"at"`
}

// AuditView says whether the store's audit trail verifies.
type AuditView struct {
	OK       bool   `json:"ok"`
	Entries  int    `json:"entries"`      // entries about this case's records
	Chain    int    `json:"chainEntries"` // entries in the whole chain (when it verifies)
	Head     string `json:"head,omitempty"`
	Problems string `json:"problems,omitempty"`
}

// CaseDetail is GET cases/<id>.
type CaseDetail struct {
	Case        CaseView         `json:"case"`
	Timeline    []TimelineEntry  `json:"timeline"`
	Notices     []NoticeView     `json:"notices"`
	Trace       []TraceLink      `json:"trace"`
	Evidence    EvidenceView     `json:"evidence"`
	Attachments []AttachmentView `json:"attachments"`
	Audit       AuditView        `json:"audit"`
}

// caseDetail assembles the case page.
func (d *Datasource) caseDetail(ctx context.Context, v CaseView, from, to time.Time) (CaseDetail, error) {
	out := CaseDetail{Case: v, Timeline: []TimelineEntry{}, Notices: []NoticeView{}, Trace: []TraceLink{}, Attachments: []AttachmentView{}}
	out.Evidence.Reasons = []ReasonView{}
	hide := d.Settings.HidePersons
	if v.storeID > 0 {
		ds, err := d.Store.CaseDispositions(ctx, v.storeID)
		if err != nil {
			return out, err
		}
		for _, x := range ds {
			e := TimelineEntry{At: Time{x.At}, IP: x.IP, Stage: x.Stage, StageLabel: campaign.CodeLabels("stage")[x.Stage], Class: x.Class,
				ClassLabel: campaign.ClassLabel(x.Class), Note: x.Note, Author: x.Author, AuthorRole: x.AuthorRole, Via: x.Via}
			if hide {
				e.Note, e.Author = "", ""
			}
			out.Timeline = append(out.Timeline, e)
		}
		add := func(host string, l trace.Link) {
			if hide && (l.Step == trace.StepAccount || l.Step == trace.StepPerson) {
				l.Value = ""
			}
			out.Trace = append(out.Trace, TraceLink{Host: host, Link: l.Step, Value: l.Value, How: l.How, Confidence: string(l.Certainty)})
		}
		ns, err := d.Store.Notices(ctx, campaign.Scope{Units: []string{v.Unit}}, v.storeID)
		if err != nil {
			return out, err
		}
		for _, n := range ns {
			out.Notices = append(out.Notices, NoticeView{Number: n.Number, Egress: n.EgressIP, Start: Time{n.Start}, End: Time{n.End},
				Window: n.Start.UTC().Format(time.RFC3339) + "/" + n.End.UTC().Format(time.RFC3339), Remote: n.Remote, ReceivedAt: Time{n.Notified}})
			var r trace.Result
			if json.Unmarshal([]byte(n.Trace), &r) != nil {
				continue // a trace this version cannot read is left out, not guessed at
			}
			for _, l := range r.Links {
				add("", l)
			}
			for _, h := range r.Hosts {
				for _, l := range h.Links {
					add(h.IP, l)
				}
			}
		}
		// A detected case's own traces (casestore.HostTracer): its IPs at
		// their detection time, link by link as a notice's hosts.
		trs, err := d.Store.Traces(ctx, v.storeID)
		if err != nil {
			return out, err
		}
		for _, st := range trs {
			var h trace.Host
			if json.Unmarshal([]byte(st.Trace), &h) != nil {
				continue
			}
			for _, l := range h.Links {
				add(h.IP, l)
			}
		}
		as, err := d.Store.Attachments(ctx, v.storeID)
		if err != nil {
			return out, err
		}
		for _, a := range as {
			out.Attachments = append(out.Attachments, AttachmentView{ID: a.ID, Name: a.Name, Type: a.ContentType, Size: a.Size, SHA256: a.SHA256, By: a.Author, Role: a.AuthorRole, At: Time{a.At}})
		}
		if out.Audit.Entries, err = d.Store.CaseEntries(ctx, v.storeID); err != nil {
			return out, err
		}
	}
	if d.Store != nil {
		ver, err := d.Store.VerifyCached(ctx) // shown on every case page: from the last verified head
		out.Audit.OK, out.Audit.Chain, out.Audit.Head = err == nil, ver.Entries, ver.Head
		if err != nil {
			out.Audit.Problems = err.Error()
		}
	}
	if v.row != nil {
		out.Evidence.FirstSeen, out.Evidence.LastSeen = Time{v.row.FirstFlagged}, Time{v.row.LastFlagged}
	}
	ev, err := d.Source.Evidence(ctx, campaign.HostKey{IP: v.IP, Unit: v.Unit}, from, to, nil)
	if err != nil {
		return out, err
	}
	out.Evidence.Score = ev.Score
	for _, r := range ev.Reasons {
		out.Evidence.Reasons = append(out.Evidence.Reasons, ReasonView{Signal: r.Signal, Label: r.Label, Points: r.Points})
	}
	return out, nil
}
