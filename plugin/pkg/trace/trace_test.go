package trace

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/notice"
	"github.com/minewatch/minewatch/plugin/pkg/trace/lease"
	"github.com/minewatch/minewatch/plugin/pkg/trace/radacct"
)

// fakeFlows answers from a fixed list and records what it was asked.
type fakeFlows struct {
	hosts []FlowHost
	units []string
}

func (f *fakeFlows) Hosts(_ context.Context, units []string, _ netip.Addr, _ uint16, _, _ time.Time) ([]FlowHost, error) {
	f.units = units
	var out []FlowHost
	for _, h := range f.hosts {
		if slices.Contains(units, h.Unit) {
			out = append(out, h)
		}
	}
	return out, nil
}

var t0 = time.Date(2026, 11, 5, 9, 0, 0, 0, time.UTC)

func testLedger(t *testing.T) *ledger.Ledger {
	l, err := ledger.Parse("ledger.yaml", []byte(`units:
  - {id: edu, name: 教育局, sector: institution, cidrs: [10.0.0.0/24], egress: [198.51.100.1]}
  - {id: school, name: 一中, sector: school, parent: edu, cidrs: [10.20.0.0/16, 203.0.113.0/28]}
assets:
  - {ip: 10.20.3.21, unit: school, name: GPU工作站, kind: gpu-workstation, owner: 李老师}
`))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func certainties(links []Link) string {
	var s []string
	for _, l := range links {
		s = append(s, l.Step+"="+string(l.Certainty))
	}
	return strings.Join(s, " ")
}

func TestTraceLinks(t *testing.T) {
	l := testLedger(t)
	flows := &fakeFlows{hosts: []FlowHost{
		{IP: "10.20.3.21", Unit: "school", ByEndpoint: true, Contacts: 12},
	}}
	tr := &Tracer{Ledger: l, Assets: campaign.LedgerAssets{Ledger: l}, Flows: flows, MaxGap: time.Hour,
		Leases:     lease.NewHistory([]lease.Lease{{IP: netip.MustParseAddr("10.20.3.21"), MAC: "52:54:00:00:00:21", Start: t0.Add(-time.Hour), End: t0.Add(-10 * time.Minute), Source: "l:1"}}),
		Accounting: radacct.NewAccounting(nil),
	}
	n := notice.Notice{Number: "n1", EgressIP: netip.MustParseAddr("198.51.100.1"), Start: t0, End: t0, Notified: t0.Add(time.Hour),
		Remote: netip.MustParseAddr("192.0.2.10"), RemotePort: 3333}
	r, err := tr.Trace(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	// The district's shared egress: its schools' hosts are searched too.
	if r.Unit != "edu" || !slices.Equal(flows.units, []string{"edu", "school"}) {
		t.Errorf("unit %s, flows asked for %v", r.Unit, flows.units)
	}
	if len(r.Hosts) != 1 {
		t.Fatalf("hosts %+v", r.Hosts)
	}
	h := r.Hosts[0]
	// The lease ended 10 minutes before: nearest; no accounting: the person comes from the asset ledger.
	if got := certainties(h.Links); got != "mac=nearest account=none device=exact person=exact" {
		t.Errorf("links %s", got)
	}
	if h.MAC != "52:54:00:00:00:21" || h.Device != "GPU工作站" || h.Person != "李老师" || h.DeviceKey != "mac:52:54:00:00:00:21" {
		t.Errorf("host %+v", h)
	}
	c := r.Case()
	if c.Unit != "edu" || !slices.Equal(c.IPs, []string{"10.20.3.21"}) || !c.LocateDeadline.Equal(t0.Add(49*time.Hour)) || !c.ReportDeadline.Equal(t0.Add(73*time.Hour)) {
		t.Errorf("case %+v", c)
	}
}

// TestTraceHost: a detected host is traced by the notice's rule at the
// detection moment: the lease covering that moment (not the later one of
// another MAC) gives the MAC, the session the account, the ledger the
// device and person; the stored trace has each link with its certainty.
func TestTraceHost(t *testing.T) {
	l := testLedger(t)
	ip := netip.MustParseAddr("10.20.3.21")
	tr := &Tracer{Ledger: l, Assets: campaign.LedgerAssets{Ledger: l}, MaxGap: time.Hour,
		Leases: lease.NewHistory([]lease.Lease{
			{IP: ip, MAC: "52:54:00:00:00:21", Start: t0.Add(-time.Hour), End: t0.Add(time.Hour), Source: "l:1"},
			{IP: ip, MAC: "52:54:00:00:00:99", Start: t0.Add(2 * time.Hour), End: t0.Add(3 * time.Hour), Source: "l:2"},
		}),
		Accounting: radacct.NewAccounting([]radacct.Session{{User: "li4", IP: ip, MAC: "52:54:00:00:00:21", Start: t0.Add(-time.Hour), End: t0.Add(time.Hour), Sources: []string{"d:7"}}}),
	}
	ht, err := tr.TraceHost(context.Background(), "school", ip.String(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if ht.DeviceKey != "mac:52:54:00:00:00:21" || ht.Device != "GPU工作站" || ht.Person != "李老师" {
		t.Errorf("traced %+v", ht)
	}
	var h Host
	if err := json.Unmarshal([]byte(ht.Trace), &h); err != nil {
		t.Fatal(err)
	}
	if got := certainties(h.Links); got != "host=exact mac=exact account=exact device=exact person=exact" {
		t.Errorf("links %s", got)
	}
	if h.MAC != "52:54:00:00:00:21" || h.Account != "li4" || h.Links[1].Evidence[0] != "l:1" || h.Links[2].Evidence[0] != "d:7" {
		t.Errorf("host %+v", h)
	}
	// Another unit's asset is not this host's device; no lease: keyed by the IP.
	ht, err = (&Tracer{Ledger: l, Assets: campaign.LedgerAssets{Ledger: l}}).TraceHost(context.Background(), "edu", ip.String(), t0)
	if err != nil || ht.DeviceKey != "ip:10.20.3.21" || ht.Device != "" {
		t.Errorf("without records: %+v %v", ht, err)
	}
}

func TestTraceWithoutEgressOrHosts(t *testing.T) {
	l := testLedger(t)
	flows := &fakeFlows{hosts: []FlowHost{{IP: "10.20.0.5", Unit: "school"}, {IP: "10.20.0.6", Unit: "school"}}}
	tr := &Tracer{Ledger: l, Flows: flows}
	at := func(ip string) Result {
		r, err := tr.Trace(context.Background(), notice.Notice{EgressIP: netip.MustParseAddr(ip), Start: t0, End: t0, Notified: t0})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// Not in the ledger: kept under "unassigned" for the bureau, nothing dropped.
	if r := at("192.0.2.200"); r.Unit != ledger.Unassigned || certainties(r.Links) != "unit=none host=none" || r.Case().IPs[0] != "192.0.2.200" {
		t.Errorf("unknown egress: %s %+v", r.Unit, r.Links)
	}
	// An address of the unit's own ranges is the host itself (no NAT).
	if r := at("203.0.113.5"); r.Unit != "school" || len(r.Hosts) != 1 || r.Hosts[0].IP != "203.0.113.5" || r.Hosts[0].DeviceKey != "ip:203.0.113.5" {
		t.Errorf("direct address: %+v", r)
	}
	// Two mining hosts and no endpoint: both, marked ambiguous, in one case without a device.
	tr.Ledger, _ = ledger.Parse("l.yaml", []byte("units:\n  - {id: school, name: 一中, sector: school, cidrs: [10.20.0.0/16], egress: [198.51.100.2]}\n"))
	r := at("198.51.100.2")
	if certainties(r.Links) != "unit=exact host=ambiguous host=ambiguous" || len(r.Hosts) != 2 {
		t.Errorf("two hosts: %s", certainties(r.Links))
	}
	if c := r.Case(); len(c.IPs) != 2 || c.DeviceKey != "" || c.Device != "" {
		t.Errorf("case of two hosts: %+v", c)
	}
}

func TestPoolMatcher(t *testing.T) {
	for _, c := range []struct {
		ip   string
		port uint16
		want string
	}{
		{"192.0.2.10", 3333, `"192\\.0\\.2\\.10|192\\.0\\.2\\.10:3333"`},
		{"192.0.2.10", 0, `"192\\.0\\.2\\.10(:[0-9]+)?"`},
	} {
		if got := poolMatcher(netip.MustParseAddr(c.ip), c.port); got != c.want {
			t.Errorf("poolMatcher(%s, %d) = %s, want %s", c.ip, c.port, got, c.want)
		}
	}
}
