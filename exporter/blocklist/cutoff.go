package blocklist

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
)

// By is what a cut-off entry blocks a terminal by.
type By string

// The keys of an entry, in the order of preference: the case's device key
// (campaign.DeviceKey) names a MAC or an account when the trace found one.
const (
	// ByMAC: the terminal's MAC (from the DHCP lease). Enforced where the
	// terminal's own frames arrive (its first router or access switch);
	// it keeps the terminal off whatever address DHCP gives it next, and
	// never blocks the next holder of its old address.
	ByMAC By = "mac"
	// ByAccount: the account it logs in with (RADIUS, 上网认证): the RADIUS
	// list rejects the account; the address lists hold its flagged IPs.
	ByAccount By = "account"
	// ByIP: only the flagged address is known.
	ByIP By = "ip"
)

// Label is the key as bureau staff read it, Chinese first.
func (b By) Label() string {
	switch b {
	case ByMAC:
		return "按MAC by MAC"
	case ByAccount:
		return "按账号 by account"
	}
	return "按IP by IP"
}

// CutOff is one terminal to cut off from the Internet (停止互联网接入): a
// device whose latest episode keeps mining (campaign.KeepsMining, the one
// rule) while its case is open. It is keyed by its MAC where the case
// knows it, else by its IP (and its account, for RADIUS, where known).
type CutOff struct {
	By      By
	MAC     net.HardwareAddr // ByMAC
	Account string           // ByAccount
	IPs     []netip.Addr     // the flagged addresses (sorted); what ByAccount and ByIP block in nftables and ipset
	Unit    string
	CaseID  int64
	Rule    campaign.CutOffRule
	Since   time.Time // start of the (earliest) episode
	Device  string    // as the case records them
	Person  string
}

// Key is the entry's key as the lists write it: the MAC, the account or the IP.
func (c CutOff) Key() string {
	switch c.By {
	case ByMAC:
		return c.MAC.String()
	case ByAccount:
		return c.Account
	}
	return c.IPs[0].String()
}

// CutOffList is the cut-off list and what kept a terminal off it.
type CutOffList struct {
	Entries []CutOff
	// NoCase: terminals that keep mining without an open case in the case
	// store; not cut off (an entry needs the case that ends it), reported.
	NoCase  []campaign.TrackerRow
	Created time.Time
}

// deviceOf splits a case's device key into the entry's key.
func deviceOf(c casestore.Case) (By, net.HardwareAddr, string) {
	if m, ok := strings.CutPrefix(c.DeviceKey, campaign.DeviceKeyMAC); ok {
		if hw, err := net.ParseMAC(m); err == nil && len(hw) == 6 {
			return ByMAC, hw, ""
		}
	}
	if a, ok := strings.CutPrefix(c.DeviceKey, campaign.DeviceKeyAccount); ok && a != "" {
		return ByAccount, nil, a
	}
	return ByIP, nil, ""
}

// CutOffs builds the list from the tracker's rows and the case store's
// cases: each row the rule marks, with the newest open case of its unit
// holding its IP. A closed case ends the entry. The IPs of one device (a
// case following a MAC or an account across DHCP addresses) make one entry.
func CutOffs(rows []campaign.TrackerRow, cases []casestore.Case, now time.Time) *CutOffList {
	open := map[campaign.HostKey]casestore.Case{}
	for _, c := range cases {
		if !c.Closed.IsZero() {
			continue
		}
		for _, ip := range c.IPs {
			k := campaign.HostKey{IP: ip, Unit: c.Unit}
			if prev, ok := open[k]; !ok || c.ID > prev.ID {
				open[k] = c
			}
		}
	}
	l := &CutOffList{Created: now}
	byKey := map[string]int{} // entry key (by + key) → index in l.Entries
	for _, r := range rows {
		if r.CutOff == "" {
			continue
		}
		a, err := netip.ParseAddr(r.IP)
		if err != nil {
			continue // the tracker's IPs come from label values it validated
		}
		a = a.Unmap()
		c, ok := open[campaign.HostKey{IP: r.IP, Unit: r.Unit}]
		if !ok {
			l.NoCase = append(l.NoCase, r)
			continue
		}
		by, mac, acct := deviceOf(c)
		e := CutOff{By: by, MAC: mac, Account: acct, IPs: []netip.Addr{a}, Unit: r.Unit, CaseID: c.ID, Rule: r.CutOff,
			Since: r.EpisodeStart, Device: c.Device, Person: c.Person}
		k := string(by) + "\x00" + e.Key()
		if by == ByIP {
			l.Entries = append(l.Entries, e)
			continue
		}
		i, seen := byKey[k]
		if !seen {
			byKey[k] = len(l.Entries)
			l.Entries = append(l.Entries, e)
			continue
		}
		prev := &l.Entries[i]
		prev.IPs = append(prev.IPs, a)
		slices.SortFunc(prev.IPs, netip.Addr.Compare)
		if r.CutOff == campaign.CutOffRelapse { // the graver rule names the entry
			prev.Rule = r.CutOff
		}
		if r.EpisodeStart.Before(prev.Since) {
			prev.Since = r.EpisodeStart
		}
	}
	sort.SliceStable(l.Entries, func(i, j int) bool {
		a, b := l.Entries[i], l.Entries[j]
		if a.By != b.By {
			return a.By < b.By // account, ip, mac
		}
		if a.By == ByIP {
			return a.IPs[0].Less(b.IPs[0])
		}
		return a.Key() < b.Key()
	})
	return l
}

// why is the entry's reason on one line: case, unit, rule, since when, and
// what it is keyed by (with the addresses a MAC or an account was flagged at).
func (c CutOff) why() string {
	s := fmt.Sprintf("案件 case %d, 单位 unit %s, %s, 自 since %s, %s", c.CaseID, c.Unit, campaign.CutOffLabel(c.Rule),
		c.Since.In(names.Location()).Format("2006-01-02 15:04"), c.By.Label())
	if c.By != ByIP {
		s += " " + c.Key() + " (地址 IPs " + joinAddrs(c.IPs) + ")"
	}
	return s
}

func joinAddrs(as []netip.Addr) string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return strings.Join(out, ", ")
}

// CutOffFormat is one output format of the cut-off list.
type CutOffFormat struct {
	Name, File, Help string
	write            func(*CutOffList, Options, *bufio.Writer)
}

// CutOffFormats lists the formats of the cut-off list.
var CutOffFormats = []CutOffFormat{
	{"nft", "minewatch-cutoff.nft", "nftables table dropping forwarded frames from each MAC and traffic from and to each IP (nft -f)", writeCutOffNft},
	{"ipset", "minewatch-cutoff.ipset", "ipset restore file (hash:ip and hash:mac, the case in each entry's comment)", writeCutOffIpset},
	{"freeradius", "minewatch-cutoff.users", "FreeRADIUS users file: Auth-Type := Reject by Calling-Station-Id (MAC), User-Name or Framed-IP-Address (include it first in mods-config/files/authorize)", writeCutOffRadius},
}

// CutOffFormatNames are the accepted --format values.
func CutOffFormatNames() []string {
	out := make([]string, len(CutOffFormats))
	for i, f := range CutOffFormats {
		out[i] = f.Name
	}
	return out
}

// FindCutOffFormat returns the named format.
func FindCutOffFormat(name string) (CutOffFormat, error) {
	for _, f := range CutOffFormats {
		if f.Name == name {
			return f, nil
		}
	}
	return CutOffFormat{}, fmt.Errorf("unknown format %q (known: %s)", name, strings.Join(CutOffFormatNames(), ", "))
}

// Write writes the list in format f. o.Table and o.Set default to
// mwcutoff, apart from the pool blocklist's, so that reloading one
// never touches the other.
func (f CutOffFormat) Write(w io.Writer, l *CutOffList, o Options) error {
	if o.Table == "" {
		o.Table = "mwcutoff"
	}
	if o.Set == "" {
		o.Set = "mwcutoff"
	}
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	f.write(l, o, bw)
	return bw.Flush()
}

// WriteFile writes the format into dir under its file name (atomically).
func (f CutOffFormat) WriteFile(dir string, l *CutOffList, o Options) (string, error) {
	return writeAtomic(dir, f.File, func(w io.Writer) error { return f.Write(w, l, o) })
}

func cutOffHeader(w *bufio.Writer, l *CutOffList, mark, what string) {
	fmt.Fprintf(w, "%s minewatch 停止互联网接入名单 cut-off list (terminals that keep mining): %s\n", mark, what)
	fmt.Fprintf(w, "%s 生成时间 generated %s（北京时间 Beijing time） by minewatch cutoff; an entry ends when its case is closed: regenerate.\n",
		mark, l.Created.In(names.Location()).Format("2006-01-02 15:04:05"))
	fmt.Fprintf(w, "%s 规则 rule (campaign.KeepsMining, docs/campaign.md): %s; 或 or %s\n", mark,
		campaign.CutOffLabel(campaign.CutOffPersists), campaign.CutOffLabel(campaign.CutOffRelapse))
	fmt.Fprintf(w, "%s 终端 terminals %d（按MAC by MAC %d, 按账号 by account %d, 按IP by IP %d）\n", mark, len(l.Entries),
		l.count(ByMAC), l.count(ByAccount), l.count(ByIP))
}

func (l *CutOffList) count(by By) int {
	n := 0
	for _, e := range l.Entries {
		if e.By == by {
			n++
		}
	}
	return n
}

// addrEntry is one address of the address sets with the entry it comes from.
type addrEntry struct {
	IP netip.Addr
	CutOff
}

// addrs are the addresses the address sets hold: every IP of the entries
// not keyed by MAC (an entry keyed by MAC stays off them: the address goes
// to another terminal at the next lease).
func (l *CutOffList) addrs(v6 bool) []addrEntry {
	var out []addrEntry
	seen := map[netip.Addr]bool{}
	for _, e := range l.Entries {
		if e.By == ByMAC {
			continue
		}
		for _, a := range e.IPs {
			if a.Is6() == v6 && !seen[a] {
				seen[a] = true
				out = append(out, addrEntry{a, e})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP.Less(out[j].IP) })
	return out
}

func (l *CutOffList) macs() []CutOff {
	var out []CutOff
	for _, e := range l.Entries {
		if e.By == ByMAC {
			out = append(out, e)
		}
	}
	return out
}

// writeNftElements writes a set's elements, each with its reason.
func writeNftElements(w *bufio.Writer, keys, whys []string) {
	if len(keys) == 0 {
		return
	}
	w.WriteString("\t\telements = {\n")
	for i, k := range keys {
		sep := ","
		if i == len(keys)-1 {
			sep = ""
		}
		fmt.Fprintf(w, "\t\t\t%s%s # %s\n", k, sep, comment(whys[i]))
	}
	w.WriteString("\t\t}\n")
}

func writeCutOffNft(l *CutOffList, o Options, w *bufio.Writer) {
	cutOffHeader(w, l, "#", "nftables (nft -f)")
	fmt.Fprintf(w, "table inet %s\ndelete table inet %s\ntable inet %s {\n", o.Table, o.Table, o.Table)
	var keys, whys []string
	for _, e := range l.macs() {
		keys, whys = append(keys, e.MAC.String()), append(whys, e.why())
	}
	// MACs: matched on the frames the terminal itself sends, so this table
	// cuts them off only on the router (or bridge) of the terminal's own
	// network segment; behind another router every frame bears that router's MAC.
	fmt.Fprintf(w, "\tset %s_mac {\n\t\ttype ether_addr\n", o.Set)
	writeNftElements(w, keys, whys)
	w.WriteString("\t}\n")
	for _, fam := range []struct {
		suffix, typ string
		v6          bool
	}{{"_v4", "ipv4_addr", false}, {"_v6", "ipv6_addr", true}} {
		keys, whys = nil, nil
		for _, a := range l.addrs(fam.v6) {
			keys, whys = append(keys, a.IP.String()), append(whys, a.why())
		}
		fmt.Fprintf(w, "\tset %s%s {\n\t\ttype %s\n", o.Set, fam.suffix, fam.typ)
		writeNftElements(w, keys, whys)
		w.WriteString("\t}\n")
	}
	// Forwarded traffic only: the terminal still reaches this router (and
	// the unit's own network), so its owner sees why and can be helped.
	fmt.Fprintf(w, "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n")
	fmt.Fprintf(w, "\t\tether saddr @%s_mac counter drop comment \"minewatch cut-off\"\n", o.Set)
	fmt.Fprintf(w, "\t\tip saddr @%s_v4 counter drop comment \"minewatch cut-off\"\n", o.Set)
	fmt.Fprintf(w, "\t\tip daddr @%s_v4 counter drop comment \"minewatch cut-off\"\n", o.Set)
	fmt.Fprintf(w, "\t\tip6 saddr @%s_v6 counter drop comment \"minewatch cut-off\"\n", o.Set)
	fmt.Fprintf(w, "\t\tip6 daddr @%s_v6 counter drop comment \"minewatch cut-off\"\n", o.Set)
	w.WriteString("\t}\n}\n")
}

// ipsetComment keeps a comment to what ipset accepts (no quote, at most 255 bytes).
func ipsetComment(s string) string {
	s = strings.NewReplacer(`"`, "'", "\n", " ").Replace(s)
	for len(s) > 255 {
		r := []rune(s)
		s = string(r[:len(r)-1])
	}
	return s
}

// IpsetMACName is the ipset name of the cut-off list's MAC set.
func IpsetMACName(o Options) string {
	return strings.ReplaceAll(o.withDefaults().Set, "_", "-") + "-mac"
}

// ipsetSet writes one set, filled under a temporary name and swapped in,
// so that a reload never leaves the name empty.
func ipsetSet(w *bufio.Writer, name, typ, opts string, keys, whys []string) {
	tmp := name + "-new"
	fmt.Fprintf(w, "create %s %s %scomment -exist\n", name, typ, opts)
	fmt.Fprintf(w, "create %s %s %scomment -exist\nflush %s\n", tmp, typ, opts, tmp)
	for i, k := range keys {
		fmt.Fprintf(w, "add %s %s comment \"%s\"\n", tmp, k, ipsetComment(whys[i]))
	}
	fmt.Fprintf(w, "swap %s %s\ndestroy %s\n", tmp, name, tmp)
}

func writeCutOffIpset(l *CutOffList, o Options, w *bufio.Writer) {
	mac := IpsetMACName(o)
	cutOffHeader(w, l, "#", "ipset (ipset restore < file); match with iptables, e.g.:")
	fmt.Fprintf(w, "#   iptables -I FORWARD -m set --match-set %s src -j DROP   (MACs: on the terminals' own segment)\n", mac)
	fmt.Fprintf(w, "#   iptables -I FORWARD -m set --match-set %s src -j DROP; iptables -I FORWARD -m set --match-set %s dst -j DROP\n",
		IpsetName(o, false, false), IpsetName(o, false, false))
	fmt.Fprintf(w, "#   ip6tables -I FORWARD -m set --match-set %s src -j DROP; ip6tables -I FORWARD -m set --match-set %s dst -j DROP\n",
		IpsetName(o, true, false), IpsetName(o, true, false))
	var keys, whys []string
	for _, v6 := range []bool{false, true} {
		fam := "inet"
		if v6 {
			fam = "inet6"
		}
		keys, whys = nil, nil
		for _, a := range l.addrs(v6) {
			keys, whys = append(keys, a.IP.String()), append(whys, a.why())
		}
		ipsetSet(w, IpsetName(o, v6, false), "hash:ip", "family "+fam+" ", keys, whys)
	}
	// Last: a kernel built without hash:mac (module ip_set_hash_mac,
	// CONFIG_IP_SET_HASH_MAC; Debian's kernels have it) fails here, after
	// the address sets are in place.
	w.WriteString("# MACs: needs the kernel's hash:mac set type (module ip_set_hash_mac); the address sets above load without it.\n")
	keys, whys = nil, nil
	for _, e := range l.macs() {
		keys, whys = append(keys, e.MAC.String()), append(whys, e.why())
	}
	ipsetSet(w, mac, "hash:mac", "", keys, whys)
}

// radiusString quotes a FreeRADIUS string value.
func radiusString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", " ").Replace(s) + `"`
}

// macRegexp matches a MAC as NASes write Calling-Station-Id: any case, the
// octets joined by '-' (RFC 3580), ':', '.', or nothing (aabb.ccdd.eeff:
// each separator is optional).
func macRegexp(hw net.HardwareAddr) string {
	var b strings.Builder
	b.WriteString("^")
	for i, o := range hw {
		if i > 0 {
			b.WriteString("[-:.]?")
		}
		for _, c := range fmt.Sprintf("%02x", o) {
			if c >= 'a' && c <= 'f' {
				fmt.Fprintf(&b, "[%c%c]", c, c-'a'+'A')
			} else {
				b.WriteRune(c)
			}
		}
	}
	b.WriteString("$")
	return b.String()
}

// writeCutOffRadius writes one DEFAULT entry per terminal, matched on what
// the NAS (portal, BRAS, 802.1X switch) sends that the entry is keyed by:
// Calling-Station-Id for a MAC, User-Name for an account, Framed-IP-Address
// (Framed-IPv6-Address) for an IP. The entries have no Fall-Through: the
// first match rejects.
func writeCutOffRadius(l *CutOffList, o Options, w *bufio.Writer) {
	cutOffHeader(w, l, "#", "FreeRADIUS users file (put it before other entries: $INCLUDE it at the top of mods-config/files/authorize)")
	reply := func(e CutOff) {
		fmt.Fprintf(w, "\tReply-Message := %s\n", radiusString(fmt.Sprintf("该终端持续挖矿，已停止互联网接入（案件 %d），请联系单位网络管理员 / cut off for mining (case %d): contact your network administrator", e.CaseID, e.CaseID)))
	}
	for _, e := range l.Entries {
		fmt.Fprintf(w, "\n# %s\n", comment(e.why()))
		switch e.By {
		case ByMAC:
			fmt.Fprintf(w, "DEFAULT Calling-Station-Id =~ %s, Auth-Type := Reject\n", radiusString(macRegexp(e.MAC)))
			reply(e)
		case ByAccount:
			fmt.Fprintf(w, "%s Auth-Type := Reject\n", radiusString(e.Account))
			reply(e)
		default:
			for _, a := range e.IPs {
				attr := "Framed-IP-Address"
				if a.Is6() {
					attr = "Framed-IPv6-Address"
				}
				fmt.Fprintf(w, "DEFAULT %s == %s, Auth-Type := Reject\n", attr, a)
				reply(e)
			}
		}
	}
}

// WriteReport lists the terminals cut off and those that keep mining
// without an open case (Chinese first).
func (l *CutOffList) WriteReport(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "停止互联网接入名单 cut-off list, %s（北京时间）: %d 个终端 terminals\n", l.Created.In(names.Location()).Format("2006-01-02 15:04:05"), len(l.Entries))
	for _, e := range l.Entries {
		fmt.Fprintf(bw, "  %s  %s", e.Key(), e.why())
		if e.Device != "" || e.Person != "" {
			fmt.Fprintf(bw, ", 设备 device %s, 责任人 person %s", e.Device, e.Person)
		}
		bw.WriteString("\n")
	}
	if len(l.NoCase) > 0 {
		fmt.Fprintf(bw, "持续挖矿但无未结案件（未列入，请先立案） keep mining but have no open case (not listed: open one, e.g. minewatch case located <ip>): %d\n", len(l.NoCase))
		for _, r := range l.NoCase {
			fmt.Fprintf(bw, "  %s  单位 unit %s, %s, 自 since %s\n", r.IP, r.Unit, campaign.CutOffLabel(r.CutOff), r.EpisodeStart.In(names.Location()).Format("2006-01-02 15:04"))
		}
	}
	return bw.Flush()
}
