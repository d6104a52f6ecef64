package plugin

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/trace"
)

// TestDetectedCaseTracedFromLeases: with leaseFiles set, the first
// disposition of a detected case (d~u-a~10.1.0.2) opens a store case traced
// at the IP's detection time — the lease of that moment gives the MAC, not
// the lease another machine holds now — and the case page shows the links.
func TestDetectedCaseTracedFromLeases(t *testing.T) {
	vm := seededVM(t)
	dir := t.TempDir()
	// Kea memfile rows: expire and valid lifetime give the lease's span.
	// 10.1.0.2 is first flagged 4 Nov 20:10 Beijing time (vmtest.Campaign).
	then, now := vmtest.At(2026, 11, 4, 18, 0), fixedNow.Add(-2*time.Hour)
	leases := filepath.Join(dir, "kea-leases4.csv")
	csv := "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n" +
		fmt.Sprintf("10.1.0.2,52:54:00:b0:07:01,,21600,%d,1,0,0,b07,0,\n", then.Add(6*time.Hour).Unix()) +
		fmt.Sprintf("10.1.0.2,52:54:00:99:99:99,,14400,%d,1,0,0,other,0,\n", now.Add(4*time.Hour).Unix())
	if err := os.WriteFile(leases, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "cases.db")
	ds := newDS(t, vm.URL, fmt.Sprintf(`{"caseStore":%q,"ledgerFiles":[%q],"leaseFiles":[%q]}`, store, appLedger(t), leases))
	if _, ok := ds.Store.Tracer.(trace.Files); !ok {
		t.Fatalf("store tracer %T, want trace.Files", ds.Store.Tracer)
	}
	window := fmt.Sprintf("from=%d&to=%d", vmtest.At(2026, 10, 1, 0, 0).UnixMilli(), fixedNow.UnixMilli())
	r := callAs(t, ds, leadA, "POST", "dispositions?"+window, []byte(`{"caseId":"d~u-a~10.1.0.2","stage":"located","class":"被动"}`))
	var rec DispositionResponse
	if r.Status != 201 || json.Unmarshal(r.Body, &rec) != nil {
		t.Fatalf("disposition: %d %s", r.Status, r.Body)
	}
	c, err := ds.Store.Case(t.Context(), campaign.Scope{All: true}, rec.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	if c.DeviceKey != "mac:52:54:00:b0:07:01" || c.Device != "机房B-07" || c.Person != "赵老师" {
		t.Errorf("detected case %+v: want the MAC leased at detection time and the ledger's device", c)
	}
	var det struct {
		Trace []TraceLink
		Audit struct{ OK bool }
	}
	if r := callAs(t, ds, leadA, "GET", "cases/"+strconv.FormatInt(rec.CaseID, 10)+"?"+window, nil); r.Status != 200 || json.Unmarshal(r.Body, &det) != nil {
		t.Fatalf("case page: %d %s", r.Status, r.Body)
	}
	links := map[string]TraceLink{}
	for _, l := range det.Trace {
		links[l.Link] = l
	}
	if l := links[trace.StepMAC]; l.Host != "10.1.0.2" || l.Value != "52:54:00:b0:07:01" || l.Confidence != "exact" {
		t.Errorf("MAC link %+v (all: %+v)", l, det.Trace)
	}
	if l := links[trace.StepHost]; l.Value != "10.1.0.2" || l.Confidence != "exact" {
		t.Errorf("host link %+v", l)
	}
	if !det.Audit.OK {
		t.Error("audit trail does not verify")
	}
}
