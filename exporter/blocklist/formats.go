package blocklist

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/names"
)

// Options are the names and actions the written files use.
type Options struct {
	// Table is the nftables table (family inet) holding the sets and chains.
	Table string `yaml:"nft_table"`
	// Set prefixes the set names: <Set>_v4, <Set>_v6, <Set>_v4_tcp, <Set>_v6_tcp in
	// nftables; with '-' instead of '_' in ipset.
	Set string `yaml:"set"`
	// DNSAction: "nxdomain" (the name does not exist) or "refuse" (REFUSED),
	// for Unbound; dnsmasq and RPZ always answer NXDOMAIN.
	DNSAction string `yaml:"dns_action"`
	// RPZZone is the origin of the RPZ zone (response-policy { zone ...; }).
	RPZZone string `yaml:"rpz_zone"`
	// SidBase is the first Suricata sid (1000000-1999999 is the local range).
	SidBase int `yaml:"sid_base"`
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{Table: "minewatch", Set: "mwpool", DNSAction: "nxdomain", RPZZone: "rpz.minewatch.", SidBase: 1970000}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Table == "" {
		o.Table = d.Table
	}
	if o.Set == "" {
		o.Set = d.Set
	}
	if o.DNSAction == "" {
		o.DNSAction = d.DNSAction
	}
	if o.RPZZone == "" {
		o.RPZZone = d.RPZZone
	}
	if !strings.HasSuffix(o.RPZZone, ".") {
		o.RPZZone += "."
	}
	if o.SidBase <= 0 {
		o.SidBase = d.SidBase
	}
	return o
}

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

func (o Options) validate() error {
	switch {
	case o.DNSAction != "nxdomain" && o.DNSAction != "refuse":
		return fmt.Errorf("DNS action %q: want nxdomain or refuse", o.DNSAction)
	case !nameRE.MatchString(o.Table) || len(o.Table) > 64:
		return fmt.Errorf("nftables table %q: letters, digits and _ only, starting with a letter", o.Table)
	case !nameRE.MatchString(o.Set) || len(IpsetName(o, true, true)+"-new") > 31:
		return fmt.Errorf("set name %q: letters, digits and _ only, starting with a letter, at most %d characters (ipset names are at most 31)", o.Set, 31-len("-v6-tcp-new"))
	case o.SidBase < 1 || o.SidBase > 1<<31-1000000:
		return fmt.Errorf("sid base %d out of range", o.SidBase)
	}
	if _, err := dnsmessage.NewName(o.RPZZone); err != nil {
		return fmt.Errorf("RPZ zone %q: %w", o.RPZZone, err)
	}
	return nil
}

// Format is one output format.
type Format struct {
	Name  string // --format value
	File  string // file name in --out-dir
	Help  string
	write func(*Blocklist, Options, *bufio.Writer)
}

// Formats lists every format, in --help order.
var Formats = []Format{
	{"nft", "minewatch-pools.nft", "nftables table with address sets and drop rules (nft -f)", writeNft},
	{"ipset", "minewatch-pools.ipset", "ipset restore file (ipset restore < file), swapped in atomically", writeIpset},
	{"hosts", "minewatch-pools.hosts", "hosts file, 0.0.0.0 per domain (exact names only)", writeHosts},
	{"dnsmasq", "minewatch-pools.dnsmasq.conf", "dnsmasq address=/domain/ lines (NXDOMAIN, subdomains too)", writeDnsmasq},
	{"unbound", "minewatch-pools.unbound.conf", "Unbound local-zone lines (include: from unbound.conf)", writeUnbound},
	{"rpz", "minewatch-pools.rpz.zone", "BIND response-policy zone (RPZ), NXDOMAIN for each domain and below", writeRPZ},
	{"domains", "minewatch-pools.domains.txt", "plain list of domains, one a line", writeDomains},
	{"ips", "minewatch-pools.ips.txt", "plain list of addresses and ranges, one a line (IP:port entries: see the nft and ipset formats)", writeIPs},
	{"suricata", "minewatch-pools.rules", "Suricata dns.query alert rules", writeSuricata},
	{"intel", "minewatch-pools.txt", "minewatch's own list format (to publish the guarded list onward)", writeIntel},
}

// FormatNames are the accepted --format values.
func FormatNames() []string {
	out := make([]string, len(Formats))
	for i, f := range Formats {
		out[i] = f.Name
	}
	return out
}

// FindFormat returns the named format.
func FindFormat(name string) (Format, error) {
	for _, f := range Formats {
		if f.Name == name {
			return f, nil
		}
	}
	return Format{}, fmt.Errorf("unknown format %q (known: %s)", name, strings.Join(FormatNames(), ", "))
}

// Write writes the blocklist in format f.
func (f Format) Write(w io.Writer, b *Blocklist, o Options) error {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	f.write(b, o, bw)
	return bw.Flush()
}

// WriteFile writes the format into dir under its file name (writeAtomic).
func (f Format) WriteFile(dir string, b *Blocklist, o Options) (string, error) {
	return writeAtomic(dir, f.File, func(w io.Writer) error { return f.Write(w, b, o) })
}

// writeAtomic writes a file through a temporary file and a rename, so a
// resolver or firewall reloading it never reads half a file.
func writeAtomic(dir, file string, write func(io.Writer) error) (string, error) {
	path := filepath.Join(dir, file)
	tmp, err := os.CreateTemp(dir, "."+file+".*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(tmp.Name(), path)
}

// header is the comment block on top of each file; mark starts comment lines.
func header(w *bufio.Writer, b *Blocklist, mark, what string) {
	fmt.Fprintf(w, "%s minewatch 矿池黑名单 mining-pool blocklist: %s\n", mark, what)
	fmt.Fprintf(w, "%s 生成时间 generated %s（北京时间 Beijing time） by minewatch blocklist; do not edit, regenerate.\n",
		mark, b.Created.In(names.Location()).Format("2006-01-02 15:04:05"))
	fmt.Fprintf(w, "%s 地址/网段 addresses %d, 域名 domains %d, 未列入 left out %d (see the report)\n", mark, len(b.Addrs), len(b.Domains), len(b.LeftOut))
}

// family splits the addresses by family and port.
func (b *Blocklist) family(v6, withPort bool) []Addr {
	var out []Addr
	for _, a := range b.Addrs {
		if a.Prefix.Addr().Is6() == v6 && (a.Port != 0) == withPort {
			out = append(out, a)
		}
	}
	return out
}

func prefixString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

func writeNft(b *Blocklist, o Options, w *bufio.Writer) {
	header(w, b, "#", "nftables (nft -f)")
	// Creating, then deleting, then defining the table replaces it in one
	// transaction whether or not it existed: never a moment without the sets.
	fmt.Fprintf(w, "table inet %s\ndelete table inet %s\ntable inet %s {\n", o.Table, o.Table, o.Table)
	type set struct {
		suffix, typ string
		v6, port    bool
	}
	sets := []set{{"_v4", "ipv4_addr", false, false}, {"_v6", "ipv6_addr", true, false},
		{"_v4_tcp", "ipv4_addr . inet_service", false, true}, {"_v6_tcp", "ipv6_addr . inet_service", true, true}}
	for _, s := range sets {
		fmt.Fprintf(w, "\tset %s%s {\n\t\ttype %s\n", o.Set, s.suffix, s.typ)
		if !s.port {
			w.WriteString("\t\tflags interval\n\t\tauto-merge\n")
		}
		if els := b.family(s.v6, s.port); len(els) > 0 {
			w.WriteString("\t\telements = {\n")
			for i, a := range els {
				el := prefixString(a.Prefix)
				if s.port {
					el = fmt.Sprintf("%s . %d", a.Prefix.Addr(), a.Port)
				}
				sep := ","
				if i == len(els)-1 {
					sep = ""
				}
				fmt.Fprintf(w, "\t\t\t%s%s # %s\n", el, sep, comment(a.Why))
			}
			w.WriteString("\t\t}\n")
		}
		w.WriteString("\t}\n")
	}
	// forward: hosts behind this router; output: this machine itself.
	for _, hook := range []string{"forward", "output"} {
		fmt.Fprintf(w, "\tchain %s {\n\t\ttype filter hook %s priority filter; policy accept;\n", hook, hook)
		fmt.Fprintf(w, "\t\tip daddr @%s_v4 counter drop comment \"minewatch pool\"\n", o.Set)
		fmt.Fprintf(w, "\t\tip6 daddr @%s_v6 counter drop comment \"minewatch pool\"\n", o.Set)
		fmt.Fprintf(w, "\t\tip daddr . tcp dport @%s_v4_tcp counter drop comment \"minewatch pool port\"\n", o.Set)
		fmt.Fprintf(w, "\t\tip6 daddr . tcp dport @%s_v6_tcp counter drop comment \"minewatch pool port\"\n", o.Set)
		w.WriteString("\t}\n")
	}
	w.WriteString("}\n")
}

// comment keeps a trailing comment on one line.
func comment(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }

// IpsetName is the ipset name for a family and port kind ("-" joins: ipset
// names are at most 31 characters).
func IpsetName(o Options, v6, port bool) string {
	o = o.withDefaults()
	n := strings.ReplaceAll(o.Set, "_", "-")
	if v6 {
		n += "-v6"
	} else {
		n += "-v4"
	}
	if port {
		n += "-tcp"
	}
	return n
}

func writeIpset(b *Blocklist, o Options, w *bufio.Writer) {
	header(w, b, "#", "ipset (ipset restore < file); match with iptables -m set --match-set <name> dst -j DROP")
	for _, v6 := range []bool{false, true} {
		for _, port := range []bool{false, true} {
			name := IpsetName(o, v6, port)
			typ := "hash:net"
			if port {
				typ = "hash:ip,port"
			}
			fam := "inet"
			if v6 {
				fam = "inet6"
			}
			els := b.family(v6, port)
			maxelem := max(65536, 2*len(els))
			// Fill a temporary set and swap it in: the live set is never empty.
			tmp := name + "-new"
			fmt.Fprintf(w, "create %s %s family %s maxelem %d -exist\n", name, typ, fam, maxelem)
			fmt.Fprintf(w, "create %s %s family %s maxelem %d -exist\nflush %s\n", tmp, typ, fam, maxelem, tmp)
			for _, a := range els {
				if port {
					fmt.Fprintf(w, "add %s %s,tcp:%d\n", tmp, a.Prefix.Addr(), a.Port)
				} else {
					fmt.Fprintf(w, "add %s %s\n", tmp, prefixString(a.Prefix))
				}
			}
			fmt.Fprintf(w, "swap %s %s\ndestroy %s\n", tmp, name, tmp)
		}
	}
}

func writeHosts(b *Blocklist, o Options, w *bufio.Writer) {
	header(w, b, "#", "hosts file (exact names only: a hosts file cannot refuse subdomains; prefer dnsmasq/Unbound/RPZ)")
	for _, d := range b.Domains {
		fmt.Fprintf(w, "0.0.0.0 %s\n", d.Name)
	}
}

func writeDnsmasq(b *Blocklist, o Options, w *bufio.Writer) {
	header(w, b, "#", "dnsmasq (conf-file= or conf-dir=); address=/domain/ answers NXDOMAIN for the domain and every name below it")
	for _, d := range b.Domains {
		fmt.Fprintf(w, "address=/%s/\n", d.Name)
	}
}

func writeUnbound(b *Blocklist, o Options, w *bufio.Writer) {
	action := "always_nxdomain"
	if o.DNSAction == "refuse" {
		action = "always_refuse"
	}
	header(w, b, "#", "Unbound (include: this file from unbound.conf); each zone covers the domain and every name below it")
	w.WriteString("server:\n")
	for _, d := range b.Domains {
		fmt.Fprintf(w, "\tlocal-zone: \"%s.\" %s\n", d.Name, action)
	}
}

func writeRPZ(b *Blocklist, o Options, w *bufio.Writer) {
	header(w, b, ";", "BIND response-policy zone "+o.RPZZone+" (CNAME . = NXDOMAIN)")
	// The serial is the time of generation: it grows with every run, so
	// secondaries pick up each new list.
	fmt.Fprintf(w, "$TTL 300\n$ORIGIN %s\n@ IN SOA localhost. hostmaster.localhost. %d 3600 600 604800 300\n@ IN NS localhost.\n",
		o.RPZZone, uint32(b.Created.Unix()))
	for _, d := range b.Domains {
		fmt.Fprintf(w, "%s CNAME .\n*.%s CNAME .\n", d.Name, d.Name)
	}
}

func writeDomains(b *Blocklist, o Options, w *bufio.Writer) {
	header(w, b, "#", "domains, one a line")
	for _, d := range b.Domains {
		w.WriteString(d.Name + "\n")
	}
}

func writeIPs(b *Blocklist, o Options, w *bufio.Writer) {
	header(w, b, "#", "addresses and ranges, one a line (every port; port-limited entries are only in the nft and ipset formats)")
	for _, a := range b.Addrs {
		if a.Port == 0 {
			w.WriteString(prefixString(a.Prefix) + "\n")
		}
	}
}

// writeSuricata writes one alert per domain on the DNS query: the name
// itself or any name below it (dotprefix + endswith), case-insensitive.
// Sids are assigned in name order from SidBase.
func writeSuricata(b *Blocklist, o Options, w *bufio.Writer) {
	header(w, b, "#", "Suricata rules (rule-files:); sids from "+fmt.Sprint(o.SidBase)+" in name order")
	for i, d := range b.Domains {
		src := d.Source
		if src == "" {
			src = "unknown"
		}
		fmt.Fprintf(w, "alert dns any any -> any any (msg:\"minewatch 矿池域名查询 mining pool DNS query %s\"; dns.query; dotprefix; content:\".%s\"; nocase; endswith; classtype:policy-violation; sid:%d; rev:1; metadata:mw_source %s;)\n",
			d.Name, d.Name, o.SidBase+i, ruleToken(src))
	}
}

// ruleToken keeps a metadata value to characters Suricata takes unquoted.
func ruleToken(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func writeIntel(b *Blocklist, o Options, w *bufio.Writer) {
	header(w, b, "#", "minewatch intel list format (DESIGN.md §3.3)")
	(&intel.List{Entries: b.Entries}).Format(w)
}
