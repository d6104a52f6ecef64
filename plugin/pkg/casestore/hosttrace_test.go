package casestore_test

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
)

// fakeTracer answers from a fixed map of IP → MAC and records what it was asked.
type fakeTracer struct {
	macs  map[string]string
	asked []string
	at    []time.Time
	fail  error // answered instead of a trace when set
}

func (f *fakeTracer) TraceHost(_ context.Context, unit, ip string, at time.Time) (casestore.HostTrace, error) {
	f.asked, f.at = append(f.asked, unit+" "+ip), append(f.at, at)
	if f.fail != nil {
		return casestore.HostTrace{}, f.fail
	}
	mac := f.macs[ip]
	return casestore.HostTrace{Device: "PC " + mac, Person: "张三", DeviceKey: campaign.DeviceKey(mac, "", ip),
		Trace: `{"ip":"` + ip + `","mac":"` + mac + `","links":[{"step":"mac","value":"` + mac + `","certainty":"exact","how":"t"}]}`}, nil
}

// testDetectedTrace: a detected case is traced at its detection time when
// the store opens it, keeps the trace as an audited record, and a detected
// IP of the same MAC (the PC after a DHCP change) joins that case; an IP
// without a known MAC opens its own. Editing a trace is detected.
func testDetectedTrace(t *testing.T, newStore newStoreFunc) {
	s, dsn := newStore(t)
	const mac = "52:54:00:12:34:56"
	tr := &fakeTracer{macs: map[string]string{"10.1.0.50": mac, "10.1.0.60": mac}}
	s.Tracer = tr
	seen := t0.Add(-3 * time.Hour)
	first, err := s.Record(ctx, casestore.NewDisposition{IP: "10.1.0.50", Unit: "u-a", Stage: "located", Class: "active", DetectedAt: seen}, lead)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.at) != 1 || !tr.at[0].Equal(seen) || tr.asked[0] != "u-a 10.1.0.50" {
		t.Fatalf("traced %v at %v, want u-a 10.1.0.50 at %v", tr.asked, tr.at, seen)
	}
	c, err := s.Case(ctx, scope("u-a"), first.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != casestore.SourceDetected || c.DeviceKey != "mac:"+mac || c.Device != "PC "+mac || c.Person != "张三" {
		t.Errorf("detected case %+v", c)
	}
	// The same PC flagged at .60: it joins the case of its MAC.
	second, err := s.Record(ctx, casestore.NewDisposition{IP: "10.1.0.60", Unit: "u-a", Stage: "located", Class: "active", DetectedAt: t0}, lead)
	if err != nil {
		t.Fatal(err)
	}
	if second.CaseID != first.CaseID {
		t.Errorf(".60 opened case %d, want it to follow its device into case %d", second.CaseID, first.CaseID)
	}
	if c, _ = s.Case(ctx, scope("u-a"), first.CaseID); strings.Join(c.IPs, ",") != "10.1.0.50,10.1.0.60" {
		t.Errorf("followed case holds %v", c.IPs)
	}
	// A further record for .50 finds its case without tracing again.
	if _, err := s.Record(ctx, casestore.NewDisposition{IP: "10.1.0.50", Unit: "u-a", Stage: "reported", Class: "active"}, lead); err != nil {
		t.Fatal(err)
	}
	if len(tr.asked) != 2 {
		t.Errorf("traced %d times, want 2 (once per new IP)", len(tr.asked))
	}
	// An IP of no known MAC: a case of its own, keyed by its IP.
	other, err := s.Record(ctx, casestore.NewDisposition{IP: "10.1.0.70", Unit: "u-a", Stage: "located", Class: "active"}, lead)
	if err != nil {
		t.Fatal(err)
	}
	if other.CaseID == first.CaseID {
		t.Error(".70 joined the PC's case")
	}
	trs, err := s.Traces(ctx, first.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	if len(trs) != 2 || trs[0].IP != "10.1.0.50" || !trs[0].At.Equal(seen) || trs[1].IP != "10.1.0.60" || !strings.Contains(trs[1].Trace, mac) || trs[0].TracedBy != lead.Login {
		t.Errorf("traces %+v", trs)
	}
	keys, err := s.DeviceKeys(ctx, campaign.Scope{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]string{"10.1.0.50": "mac:" + mac, "10.1.0.60": "mac:" + mac, "10.1.0.70": "ip:10.1.0.70"} {
		if k := keys[campaign.HostKey{IP: ip, Unit: "u-a"}]; k != want {
			t.Errorf("device key of %s: %q, want %q", ip, k, want)
		}
	}
	if _, err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(driver(dsn), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE case_traces SET trace = REPLACE(trace, '` + mac + `', '52:54:00:00:00:01') WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx); !errors.Is(err, casestore.ErrTampered) || !strings.Contains(err.Error(), "trace/1 was edited") {
		t.Errorf("edited trace: %v", err)
	}
}

// testManualTrace: a case opened by hand (source manual, `minewatch case`)
// is traced as a detected one — at the moment given, kept as an audited
// trace, device and person set — and the same PC recorded at its next DHCP
// address joins that case. A failing trace records nothing; a notice's
// case is not traced by the store (the notice import does that).
func testManualTrace(t *testing.T, newStore newStoreFunc) {
	s, _ := newStore(t)
	const mac = "52:54:00:12:34:56"
	tr := &fakeTracer{macs: map[string]string{"10.1.0.50": mac, "10.1.0.60": mac}}
	s.Tracer = tr
	seen := t0.Add(-5 * time.Hour)
	first, err := s.Record(ctx, casestore.NewDisposition{IP: "10.1.0.50", Unit: "u-a", Stage: "located", Class: "active", Source: casestore.SourceManual, DetectedAt: seen}, ops)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.at) != 1 || !tr.at[0].Equal(seen) || tr.asked[0] != "u-a 10.1.0.50" {
		t.Fatalf("traced %v at %v, want u-a 10.1.0.50 at %v", tr.asked, tr.at, seen)
	}
	c, err := s.Case(ctx, scope("u-a"), first.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != casestore.SourceManual || c.DeviceKey != "mac:"+mac || c.Device != "PC "+mac || c.Person != "张三" {
		t.Errorf("manual case %+v", c)
	}
	second, err := s.Record(ctx, casestore.NewDisposition{IP: "10.1.0.60", Unit: "u-a", Stage: "located", Class: "active", Source: casestore.SourceManual, DetectedAt: t0}, ops)
	if err != nil {
		t.Fatal(err)
	}
	if second.CaseID != first.CaseID {
		t.Errorf(".60 opened case %d, want it to follow its device into case %d", second.CaseID, first.CaseID)
	}
	if c, _ = s.Case(ctx, scope("u-a"), first.CaseID); strings.Join(c.IPs, ",") != "10.1.0.50,10.1.0.60" {
		t.Errorf("followed case holds %v", c.IPs)
	}
	trs, err := s.Traces(ctx, first.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	if len(trs) != 2 || trs[0].IP != "10.1.0.50" || !trs[0].At.Equal(seen) || trs[1].IP != "10.1.0.60" || !trs[1].At.Equal(t0) ||
		!strings.Contains(trs[0].Trace, mac) || trs[0].TracedBy != ops.Login {
		t.Errorf("traces %+v", trs)
	}
	es, err := s.Audit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for _, e := range es {
		if e.Action == "case.trace" && (e.Entity == "trace/"+strconv.FormatInt(trs[0].ID, 10) || e.Entity == "trace/"+strconv.FormatInt(trs[1].ID, 10)) {
			audited++
		}
	}
	if audited != 2 {
		t.Errorf("%d case.trace audit entries for the manual case, want 2: %+v", audited, es)
	}

	// A trace that fails: nothing recorded, no case opened.
	tr.fail = errors.New("open /var/lib/kea/kea-leases4.csv: permission denied")
	before, err := s.Cases(ctx, campaign.Scope{All: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record(ctx, casestore.NewDisposition{IP: "10.1.0.80", Unit: "u-a", Stage: "located", Class: "active", Source: casestore.SourceManual}, ops); err == nil || !strings.Contains(err.Error(), "kea-leases4.csv") {
		t.Errorf("failing trace: %v, want the lease file named", err)
	}
	after, err := s.Cases(ctx, campaign.Scope{All: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("a failed trace left %d cases, want %d", len(after), len(before))
	}
	tr.fail = nil

	// A notice's case opened through OpenCaseOf is not traced by the store.
	asked := len(tr.asked)
	if _, err := s.OpenCaseOf(ctx, "u-a", "10.1.0.90", casestore.SourceNotice, time.Time{}, ops); err != nil {
		t.Fatal(err)
	}
	if len(tr.asked) != asked {
		t.Errorf("a notice case was traced by the store: %v", tr.asked[asked:])
	}
	if _, err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
