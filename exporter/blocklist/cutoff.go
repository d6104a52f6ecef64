package blocklist

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
)

// CutOff is one terminal to cut off from the Internet (停止互联网接入): an IP
// whose latest episode keeps mining (campaign.KeepsMining) while its case
// is open. It is keyed by IP: neither the case store nor the asset ledger
// records a MAC address yet.
type CutOff struct {
	IP             netip.Addr
	Unit           string
	CaseID         int64
	Rule           campaign.CutOffRule
	Since          time.Time // start of the episode
	Device, Person string    // as the case records them
}

// CutOffList is the cut-off list and what kept a terminal off it.
type CutOffList struct {
	Entries []CutOff
	// NoCase: terminals that keep mining without an open case in the case
	// store; not cut off (an entry needs the case that ends it), reported.
	NoCase  []campaign.TrackerRow
	Created time.Time
}

// CutOffs builds the list from the tracker's rows and the case store's
// cases: each row the rule marks, with the newest open case of its unit
// holding its IP. A closed case ends the entry.
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
	for _, r := range rows {
		if r.CutOff == "" {
			continue
		}
		a, err := netip.ParseAddr(r.IP)
		if err != nil {
			continue // the tracker's IPs come from label values it validated
		}
		c, ok := open[campaign.HostKey{IP: r.IP, Unit: r.Unit}]
		if !ok {
			l.NoCase = append(l.NoCase, r)
			continue
		}
		l.Entries = append(l.Entries, CutOff{IP: a.Unmap(), Unit: r.Unit, CaseID: c.ID, Rule: r.CutOff, Since: r.EpisodeStart, Device: c.Device, Person: c.Person})
	}
	sort.Slice(l.Entries, func(i, j int) bool { return l.Entries[i].IP.Less(l.Entries[j].IP) })
	return l
}

// why is the entry's reason on one line: case, unit, rule, since when.
func (c CutOff) why() string {
	return fmt.Sprintf("案件 case %d, 单位 unit %s, %s, 自 since %s", c.CaseID, c.Unit, campaign.CutOffLabel(c.Rule),
		c.Since.In(names.Location()).Format("2006-01-02 15:04"))
}

// CutOffFormat is one output format of the cut-off list.
type CutOffFormat struct {
	Name, File, Help string
	write            func(*CutOffList, Options, *bufio.Writer)
}

// CutOffFormats lists the formats of the cut-off list.
var CutOffFormats = []CutOffFormat{
	{"nft", "minewatch-cutoff.nft", "nftables table dropping forwarded traffic from and to each terminal (nft -f)", writeCutOffNft},
	{"ipset", "minewatch-cutoff.ipset", "ipset restore file (hash:ip with the case in each entry's comment)", writeCutOffIpset},
	{"freeradius", "minewatch-cutoff.users", "FreeRADIUS users file: Auth-Type := Reject for each terminal (include it first in mods-config/files/authorize)", writeCutOffRadius},
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
	fmt.Fprintf(w, "%s 终端 terminals %d\n", mark, len(l.Entries))
}

func (l *CutOffList) family(v6 bool) []CutOff {
	var out []CutOff
	for _, e := range l.Entries {
		if e.IP.Is6() == v6 {
			out = append(out, e)
		}
	}
	return out
}

func writeCutOffNft(l *CutOffList, o Options, w *bufio.Writer) {
	cutOffHeader(w, l, "#", "nftables (nft -f)")
	fmt.Fprintf(w, "table inet %s\ndelete table inet %s\ntable inet %s {\n", o.Table, o.Table, o.Table)
	for _, fam := range []struct {
		suffix, typ string
		v6          bool
	}{{"_v4", "ipv4_addr", false}, {"_v6", "ipv6_addr", true}} {
		fmt.Fprintf(w, "\tset %s%s {\n\t\ttype %s\n", o.Set, fam.suffix, fam.typ)
		if els := l.family(fam.v6); len(els) > 0 {
			w.WriteString("\t\telements = {\n")
			for i, e := range els {
				sep := ","
				if i == len(els)-1 {
					sep = ""
				}
				fmt.Fprintf(w, "\t\t\t%s%s # %s\n", e.IP, sep, comment(e.why()))
			}
			w.WriteString("\t\t}\n")
		}
		w.WriteString("\t}\n")
	}
	// Forwarded traffic only: the terminal still reaches this router (and
	// the unit's own network), so its owner sees why and can be helped.
	fmt.Fprintf(w, "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n")
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

func writeCutOffIpset(l *CutOffList, o Options, w *bufio.Writer) {
	cutOffHeader(w, l, "#", "ipset (ipset restore < file); match with iptables -m set --match-set <name> src -j DROP")
	for _, v6 := range []bool{false, true} {
		name := IpsetName(o, v6, false)
		fam := "inet"
		if v6 {
			fam = "inet6"
		}
		tmp := name + "-new"
		fmt.Fprintf(w, "create %s hash:ip family %s comment -exist\n", name, fam)
		fmt.Fprintf(w, "create %s hash:ip family %s comment -exist\nflush %s\n", tmp, fam, tmp)
		for _, e := range l.family(v6) {
			fmt.Fprintf(w, "add %s %s comment \"%s\"\n", tmp, e.IP, ipsetComment(e.why()))
		}
		fmt.Fprintf(w, "swap %s %s\ndestroy %s\n", tmp, name, tmp)
	}
}

// radiusString quotes a FreeRADIUS string value.
func radiusString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", " ").Replace(s) + `"`
}

// writeCutOffRadius writes one DEFAULT entry per terminal, matched on the
// Framed-IP-Address (Framed-IPv6-Address) the NAS (portal or BRAS) sends. The entries have no
// Fall-Through: the first match rejects.
func writeCutOffRadius(l *CutOffList, o Options, w *bufio.Writer) {
	cutOffHeader(w, l, "#", "FreeRADIUS users file (put it before other entries: $INCLUDE it at the top of mods-config/files/authorize)")
	for _, e := range l.Entries {
		fmt.Fprintf(w, "\n# %s\n", comment(e.why()))
		attr := "Framed-IP-Address"
		if e.IP.Is6() {
			attr = "Framed-IPv6-Address"
		}
		fmt.Fprintf(w, "DEFAULT %s == %s, Auth-Type := Reject\n", attr, e.IP)
		fmt.Fprintf(w, "\tReply-Message := %s\n", radiusString(fmt.Sprintf("该终端持续挖矿，已停止互联网接入（案件 %d），请联系单位网络管理员 / cut off for mining (case %d): contact your network administrator", e.CaseID, e.CaseID)))
	}
}

// WriteReport lists the terminals cut off and those that keep mining
// without an open case (Chinese first).
func (l *CutOffList) WriteReport(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "停止互联网接入名单 cut-off list, %s（北京时间）: %d 个终端 terminals\n", l.Created.In(names.Location()).Format("2006-01-02 15:04:05"), len(l.Entries))
	for _, e := range l.Entries {
		fmt.Fprintf(bw, "  %s  %s", e.IP, e.why())
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
