// Package trace answers an upstream notice's question — which machine behind
// that address, and whose — from what a unit already has: the ledger maps
// the notified (egress) address to its unit; the exporter's own series in
// VictoriaMetrics name the internal hosts that talked to the notified
// endpoint, or were mining, in the window; DHCP leases give each host's MAC
// at that moment; RADIUS accounting (上网认证) the account; the asset ledger
// the device and its responsible person. Every link records how it was made
// and how sure it is (exact, nearest, ambiguous, none), because a bureau
// officer must be able to tell a proven trace from a guess.
//
// Each notice then becomes a case in the case store (source notice,
// deadlines counted from the notice time), following its device: a second
// notice of the same MAC at another DHCP address joins the same case.
package trace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
	"github.com/minewatch/minewatch/plugin/pkg/notice"
	"github.com/minewatch/minewatch/plugin/pkg/trace/lease"
	"github.com/minewatch/minewatch/plugin/pkg/trace/radacct"
)

// Configuration says where the trace finds its records (YAML key proposed:
// `trace`).
type Configuration struct {
	// LeaseFiles are DHCP lease files: Kea memfile CSV, ISC dhcpd.leases or
	// dnsmasq leases (the format is told from the content).
	LeaseFiles []string `yaml:"lease_files"`
	// AccountingFiles are FreeRADIUS detail files.
	AccountingFiles []string `yaml:"accounting_files"`
	// AccountingZone is the zone of the detail files' header lines (the
	// RADIUS server's local time), used only for records without an epoch.
	AccountingZone string `yaml:"accounting_zone"`
	// MaxGap: a lease or session this close in time to the notice is taken
	// as "nearest" when none covers it; farther ones are not taken.
	MaxGap time.Duration `yaml:"max_gap"`
	// FlowPad widens the notice window on both sides when reading the
	// exporter's series (they are written at intervals, and a notice giving
	// one moment has no width).
	FlowPad time.Duration `yaml:"flow_pad"`
}

// DefaultConfiguration is the configuration without files.
func DefaultConfiguration() Configuration {
	return Configuration{AccountingZone: names.TimeZone, MaxGap: 24 * time.Hour, FlowPad: campaign.Bucket}
}

// Tracer traces notices. Any source may be nil: its links are then "none".
type Tracer struct {
	Ledger     *ledger.Ledger
	Assets     campaign.AssetDirectory
	Flows      Flows
	Leases     *lease.History
	Accounting *radacct.Accounting
	MaxGap     time.Duration
	FlowPad    time.Duration
}

// New loads the files of c.
func New(c Configuration, l *ledger.Ledger, flows Flows) (*Tracer, error) {
	t := &Tracer{Ledger: l, Flows: flows, MaxGap: c.MaxGap, FlowPad: c.FlowPad}
	if l != nil {
		t.Assets = campaign.LedgerAssets{Ledger: l}
	}
	var errs []error
	var leases [][]lease.Lease
	for _, p := range c.LeaseFiles {
		ls, err := lease.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
		}
		leases = append(leases, ls)
	}
	t.Leases = lease.NewHistory(leases...)
	loc := names.Location()
	if c.AccountingZone != "" && c.AccountingZone != names.TimeZone {
		var err error
		if loc, err = time.LoadLocation(c.AccountingZone); err != nil {
			errs = append(errs, fmt.Errorf("accounting_zone: %w", err))
		}
	}
	var sessions [][]radacct.Session
	for _, p := range c.AccountingFiles {
		recs, err := radacct.ReadFile(p, loc)
		if err != nil {
			errs = append(errs, err)
		}
		sessions = append(sessions, radacct.Sessions(recs))
	}
	t.Accounting = radacct.NewAccounting(sessions...)
	return t, errors.Join(errs...)
}

// Steps of a trace.
const (
	StepUnit    = "unit"    // 单位
	StepHost    = "host"    // 内网主机
	StepMAC     = "mac"     // MAC地址
	StepAccount = "account" // 上网账号
	StepDevice  = "device"  // 设备
	StepPerson  = "person"  // 责任人
)

// Link is one step of a trace: what was found, how, and how sure.
type Link struct {
	Step      string          `json:"step"`
	Value     string          `json:"value"`
	Certainty lease.Certainty `json:"certainty"`
	How       string          `json:"how"`                // Chinese first, English second
	Evidence  []string        `json:"evidence,omitempty"` // file:line of records, queries
}

// Host is one internal host a notice was traced to.
type Host struct {
	IP        string `json:"ip"`
	MAC       string `json:"mac,omitempty"`
	Account   string `json:"account,omitempty"`
	Device    string `json:"device,omitempty"`
	Person    string `json:"person,omitempty"`
	DeviceKey string `json:"device_key"`
	Links     []Link `json:"links"`
}

// Result is the trace of one notice.
type Result struct {
	Notice notice.Notice `json:"-"`
	Unit   string        `json:"unit"`
	Links  []Link        `json:"links"` // the notice's own links (unit, hosts)
	Hosts  []Host        `json:"hosts"`
}

// moment is when a host's records are looked up: the window's start (the
// notice names activity from then on).
func moment(n notice.Notice) time.Time { return n.Start }

// Trace follows one notice as far as the records go.
func (t *Tracer) Trace(ctx context.Context, n notice.Notice) (Result, error) {
	r := Result{Notice: n, Unit: ledger.Unassigned}
	ip := n.EgressIP
	direct := false // the notified address is itself an internal host (no NAT)
	switch u, internal := t.Ledger.Classify(ip); {
	case t.Ledger.EgressUnit(ip) != nil:
		r.Unit = t.Ledger.EgressUnit(ip).ID
		r.Links = append(r.Links, Link{Step: StepUnit, Value: r.Unit, Certainty: lease.Exact,
			How: "出口地址登记在单位台账(egress) the egress address is listed on the unit in the ledger"})
	case u != nil:
		r.Unit, direct = u.ID, true
		r.Links = append(r.Links, Link{Step: StepUnit, Value: r.Unit, Certainty: lease.Exact,
			How: "地址在单位网段内(cidrs) the address is inside the unit's ranges"})
	case internal:
		direct = true
		r.Links = append(r.Links, Link{Step: StepUnit, Value: r.Unit, Certainty: lease.None,
			How: "内网地址但不属于任何单位 an internal address outside every unit"})
	default:
		r.Links = append(r.Links, Link{Step: StepUnit, Value: r.Unit, Certainty: lease.None,
			How: "台账中没有此出口地址:请在单位的 egress 中登记 the ledger does not list this egress address: add it to the unit's egress"})
	}
	var hosts []FlowHost
	if direct {
		hosts = []FlowHost{{IP: ip.String(), Unit: r.Unit}}
		r.Links = append(r.Links, Link{Step: StepHost, Value: ip.String(), Certainty: lease.Exact,
			How: "通报地址即内网主机地址(无NAT) the notified address is the host's own (no NAT)"})
	} else if t.Flows != nil && r.Unit != ledger.Unassigned {
		from, to := n.Start.Add(-t.FlowPad), n.End.Add(t.FlowPad)
		var err error
		if hosts, err = t.Flows.Hosts(ctx, t.unitAndBelow(r.Unit), n.Remote, n.RemotePort, from, to); err != nil {
			return r, err
		}
		r.Links = append(r.Links, hostLinks(n, hosts)...)
	}
	if len(hosts) == 0 && !direct {
		how := "未从流量记录找到内网主机 no internal host found in the exporter's series"
		if t.Flows == nil {
			how = "未读取流量记录 the exporter's series were not read"
		}
		r.Links = append(r.Links, Link{Step: StepHost, Certainty: lease.None, How: how})
	}
	for _, fh := range hosts {
		r.Hosts = append(r.Hosts, t.host(fh, moment(n)))
	}
	return r, nil
}

// unitAndBelow is the unit and the units under it: schools behind a
// district's shared egress are found among the district's units.
func (t *Tracer) unitAndBelow(id string) []string {
	out := []string{id}
	for changed := true; changed; {
		changed = false
		for _, u := range t.Ledger.Units() {
			if u.Parent != "" && slices.Contains(out, u.Parent) && !slices.Contains(out, u.ID) {
				out, changed = append(out, u.ID), true
			}
		}
	}
	return out
}

func hostLinks(n notice.Notice, hosts []FlowHost) []Link {
	var out []Link
	for _, h := range hosts {
		l := Link{Step: StepHost, Value: h.IP, Evidence: []string{h.Query}}
		switch {
		case h.ByEndpoint:
			l.Certainty = lease.Exact
			l.How = fmt.Sprintf("窗口内与通报目的地址 %s 有 %.0f 次连接 contacted the notified endpoint in the window", n.RemoteString(), h.Contacts)
		case len(hosts) == 1:
			l.Certainty = lease.Nearest
			l.How = "窗口内本单位唯一判定挖矿的主机(未核对目的地址) the unit's only host flagged as mining in the window (endpoint not matched)"
		default:
			l.Certainty = lease.Ambiguous
			l.How = fmt.Sprintf("窗口内本单位 %d 台主机判定挖矿,无法区分 one of %d hosts flagged as mining in the window", len(hosts), len(hosts))
		}
		if !h.ByEndpoint && n.Remote.IsValid() {
			l.How += ";未见与 " + n.RemoteString() + " 的连接 no contact with the notified endpoint seen"
		}
		out = append(out, l)
	}
	return out
}

func sinceText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return fmt.Sprintf(",相差 %s off by %s", d.Round(time.Second), d.Round(time.Second))
}

// host follows one internal host: MAC (DHCP), account (RADIUS), device and
// person (asset ledger, else the account).
func (t *Tracer) host(fh FlowHost, at time.Time) Host {
	h := Host{IP: fh.IP}
	ip, err := netip.ParseAddr(fh.IP)
	if err != nil {
		h.Links = append(h.Links, Link{Step: StepMAC, Certainty: lease.None, How: "主机地址无效 bad host address " + fh.IP})
		h.DeviceKey = campaign.DeviceKey("", "", fh.IP)
		return h
	}
	// MAC from the DHCP leases.
	mac := Link{Step: StepMAC, Certainty: lease.None, How: "无DHCP租约记录 no DHCP lease of this address"}
	if t.Leases != nil {
		m := t.Leases.At(ip, at, t.MaxGap)
		mac.Certainty = m.Certainty
		switch m.Certainty {
		case lease.Exact:
			h.MAC = m.Lease.MAC
			mac.How = "DHCP租约覆盖该时刻(通报或发现时刻) a DHCP lease covers the moment (notified or flagged)"
			mac.Evidence = []string{m.Lease.Source}
		case lease.Nearest:
			h.MAC = m.Lease.MAC
			mac.How = "无覆盖该时刻的租约,取时间最近的一条 no lease covers the moment; the nearest was taken" + sinceText(m.Distance)
			if m.Lease.Start.IsZero() {
				mac.How = "租约文件只有到期时间(dnsmasq),开始时间未知 the lease file gives only the expiry (dnsmasq)"
			}
			mac.Evidence = []string{m.Lease.Source}
		case lease.Ambiguous:
			mac.How = "多个MAC的租约同时覆盖该时刻 leases of several MACs cover the moment"
			for _, l := range m.Others {
				mac.Evidence = append(mac.Evidence, l.MAC+" "+l.Source)
			}
		}
		mac.Value = h.MAC
	}
	h.Links = append(h.Links, mac)
	// Account from RADIUS accounting: by address, else by the MAC as Calling-Station-Id.
	acct := Link{Step: StepAccount, Certainty: lease.None, How: "无上网认证计费记录 no RADIUS accounting of this address"}
	if t.Accounting != nil {
		m := t.Accounting.At(ip, at, t.MaxGap)
		by := "Framed-IP-Address"
		if m.Certainty == lease.None && h.MAC != "" {
			m, by = t.Accounting.OfMAC(h.MAC, at, t.MaxGap), "Calling-Station-Id"
		}
		acct.Certainty = m.Certainty
		switch m.Certainty {
		case lease.Exact, lease.Nearest:
			h.Account = m.Session.User
			acct.How = "计费会话(" + by + ")覆盖该时刻(通报或发现时刻) an accounting session covers the moment (notified or flagged)"
			if m.Certainty == lease.Nearest {
				acct.How = "无覆盖该时刻的会话,取最近的一次(" + by + ") no session covers the moment; the nearest was taken" + sinceText(m.Distance)
			}
			acct.Evidence = m.Session.Sources
			if h.MAC != "" && m.Session.MAC != "" && m.Session.MAC != h.MAC {
				acct.Certainty = lease.Ambiguous
				acct.How += fmt.Sprintf(";但会话的 Calling-Station-Id %s 与DHCP租约的MAC %s 不符 but the session's MAC differs from the lease's", m.Session.MAC, h.MAC)
			}
		case lease.Ambiguous:
			acct.How = "多个账号的会话同时覆盖该时刻 sessions of several accounts cover the moment"
			for _, s := range m.Others {
				acct.Evidence = append(acct.Evidence, s.User+" "+strings.Join(s.Sources, " "))
			}
		}
		acct.Value = h.Account
	}
	h.Links = append(h.Links, acct)
	// Device and person from the asset ledger.
	dev := Link{Step: StepDevice, Certainty: lease.None, How: "资产台账未登记此地址 the asset ledger has no entry for this address"}
	person := Link{Step: StepPerson, Certainty: lease.None, How: "无责任人 no responsible person found"}
	if t.Assets != nil {
		if a, ok := t.Assets.AssetOf(h.IP); ok && a.Unit == fh.Unit {
			h.Device, h.Person = a.Name, a.Owner
			dev = Link{Step: StepDevice, Value: a.Name, Certainty: lease.Exact, How: "资产台账登记该地址 the asset ledger lists this address"}
			if a.Location != "" {
				dev.How += " (" + a.Location + ")"
			}
			if a.Owner != "" {
				person = Link{Step: StepPerson, Value: a.Owner, Certainty: lease.Exact, How: "资产台账的责任人 the asset's responsible person"}
			}
		}
	}
	if h.Person == "" && h.Account != "" {
		h.Person = h.Account
		person = Link{Step: StepPerson, Value: h.Account, Certainty: lease.Nearest, How: "取上网认证账号的持有人 the holder of the RADIUS account"}
	}
	h.Links = append(h.Links, dev, person)
	h.DeviceKey = campaign.DeviceKey(h.MAC, h.Account, h.IP)
	return h
}

// TraceHost traces the host of a case's IP at the moment at — a host
// minewatch itself flagged (a detected case, at the detection moment) or one
// a person recorded by hand (a manual case, `minewatch case --at`): the host
// is the IP itself, and its MAC, account, device and person are found as
// for a notice's host (the same rule, Tracer.host). It makes Tracer a
// casestore.HostTracer.
func (t *Tracer) TraceHost(_ context.Context, unit, ip string, at time.Time) (casestore.HostTrace, error) {
	h := t.host(FlowHost{IP: ip, Unit: unit}, at)
	h.Links = append([]Link{{Step: StepHost, Value: ip, Certainty: lease.Exact,
		How: "案件的IP,按发现时刻追溯 the case's IP, traced at the moment it was flagged or seen"}}, h.Links...)
	b, err := json.Marshal(h)
	if err != nil {
		return casestore.HostTrace{}, err
	}
	return casestore.HostTrace{Device: h.Device, Person: h.Person, DeviceKey: h.DeviceKey, Trace: string(b)}, nil
}

// Files is a casestore.HostTracer that reads the configured lease and
// accounting files at each trace, so that a long-running datasource sees
// the leases and sessions written since it started (detected cases are
// opened one at a time, by a person: the read is not on a hot path).
type Files struct {
	Config Configuration
	Ledger *ledger.Ledger
}

// TraceHost loads the files as they are now and traces the host (a file
// that cannot be read is an error: the configuration names it).
func (f Files) TraceHost(ctx context.Context, unit, ip string, at time.Time) (casestore.HostTrace, error) {
	t, err := New(f.Config, f.Ledger, nil)
	if err != nil {
		return casestore.HostTrace{}, err
	}
	return t.TraceHost(ctx, unit, ip, at)
}

// Case is the case the trace opens (or that it follows, by device key).
// Several hosts share one case when the notice cannot tell them apart; a
// notice traced to no host names its own address.
func (r Result) Case() casestore.Case {
	c := casestore.Case{Unit: r.Unit, Source: casestore.SourceNotice,
		LocateDeadline: r.Notice.Notified.Add(campaign.LocateDeadline),
		ReportDeadline: r.Notice.Notified.Add(campaign.ReportDeadline)}
	for _, h := range r.Hosts {
		c.IPs = append(c.IPs, h.IP)
	}
	switch len(r.Hosts) {
	case 0:
		c.IPs = []string{r.Notice.EgressIP.String()}
		c.DeviceKey = campaign.DeviceKey("", "", r.Notice.EgressIP.String())
	case 1:
		h := r.Hosts[0]
		c.Device, c.Person, c.DeviceKey = h.Device, h.Person, h.DeviceKey
	}
	return c
}

// StoredNotice is the notice as the case store keeps it, with this trace as JSON.
func (r Result) StoredNotice() (casestore.Notice, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return casestore.Notice{}, err
	}
	n := r.Notice
	return casestore.Notice{Number: n.Number, EgressIP: n.EgressIP.String(), Start: n.Start, End: n.End, Notified: n.Notified,
		Remote: n.RemoteString(), Trace: string(b)}, nil
}

// Imported is what became of one notice.
type Imported struct {
	Result   Result
	Case     casestore.Case
	NoticeID int64
	Followed bool  // joined the open case of its device
	Err      error // the notice was not stored (duplicate, or the store refused it)
}

// Import traces each notice and stores it with its case. It goes on past a
// notice that fails, so that one bad row does not hold up the rest; every
// failure is in its Imported.Err and in the returned error.
func Import(ctx context.Context, t *Tracer, st *casestore.Store, ns []notice.Notice, by casestore.Author) ([]Imported, error) {
	ns = slices.Clone(ns)
	notice.Sort(ns) // oldest first, so a device's first notice opens its case
	var out []Imported
	var errs []error
	for _, n := range ns {
		im := Imported{}
		im.Result, im.Err = t.Trace(ctx, n)
		if im.Err == nil {
			var sn casestore.Notice
			if sn, im.Err = im.Result.StoredNotice(); im.Err == nil {
				var stored casestore.Notice
				im.Case, stored, im.Followed, im.Err = st.OpenNoticeCase(ctx, sn, im.Result.Case(), by)
				im.NoticeID = stored.ID
			}
		}
		if im.Err != nil {
			im.Result.Notice = n
			errs = append(errs, fmt.Errorf("第%d行 row %d (通报 %s, %s): %w", n.Row, n.Row, n.Number, n.EgressIP, im.Err))
		}
		out = append(out, im)
	}
	return out, errors.Join(errs...)
}
