// Package intel holds the pool intel (矿池情报 / 动态黑名单): addresses,
// ranges, IP:port endpoints and domains of mining pools, plus an allowlist of
// endpoints that must never count as pool contact. Lists are plain text, one
// entry a line, in the format of DESIGN.md §3.3; domains are resolved on a
// schedule. A Set is an immutable snapshot matched on the hot path; a Store
// swaps in a new Set on reload.
package intel

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Kind says what an entry names.
type Kind uint8

const (
	KindIP         Kind = iota + 1 // one address
	KindCIDR                       // a range
	KindIPPort                     // one address and port
	KindDomain                     // a domain (optionally with a port), resolved on a schedule
	KindResolvedIP                 // an address a listed domain resolved to
	KindConfirmed                  // an IP:port an active probe found answering as a pool (Store.Confirm)
	KindRefuted                    // an IP:port an active probe found not to be a pool (Store.Refute)
)

var kindNames = [...]string{"", "ip", "cidr", "ip_port", "domain", "resolved_ip", "confirmed", "refuted"}

// Kinds lists every kind a list file holds, in metric-label order (the
// probe's kinds are counted under list "probe").
var Kinds = []Kind{KindIP, KindCIDR, KindIPPort, KindDomain, KindResolvedIP}

// String is the kind's metric label value.
func (k Kind) String() string {
	if int(k) < len(kindNames) && k > 0 {
		return kindNames[k]
	}
	return "unknown"
}

// Entry is one listed pool endpoint (or allowlisted service).
type Entry struct {
	Pool   string // display: domain, IP, CIDR or IP:port as written
	Coin   string // upper case, "" when the list does not say
	Source string // who published it, "" when the list does not say
	Kind   Kind
	// Shared: the address came from resolving a domain, so it may be a shared
	// CDN address; weak evidence on its own.
	Shared bool
	List   string // list file it came from ("probe" for KindConfirmed, KindRefuted)
	Line   int    // line in that file
	// Probe is when and how an active probe decided (KindConfirmed,
	// KindRefuted only).
	Probe *Evidence

	addr   netip.Addr   // KindIP, KindIPPort, KindResolvedIP
	prefix netip.Prefix // KindCIDR
	port   uint16       // KindIPPort, KindDomain with a port (0: any port)
	domain string       // KindDomain, KindResolvedIP
}

// Domain is the domain an entry names or was resolved from ("" otherwise).
func (e *Entry) Domain() string { return e.domain }

// List is one parsed list file.
type List struct {
	Name    string
	Entries []*Entry
}

// ParseError is one bad line.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Parse reads one list. Every bad line is reported (errors.Join of
// *ParseError); a list with any bad line is rejected as a whole, so that a
// half-broken edit never replaces a working list: the running exporter keeps
// the last good version and says which lines to fix.
func Parse(name string, data []byte) (*List, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	l := &List{Name: name}
	seen := map[string]bool{}
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		entries, err := parseLine(sc.Text())
		if err != nil {
			errs = append(errs, &ParseError{File: name, Line: n, Msg: err.Error()})
			continue
		}
		for _, e := range entries {
			e.List, e.Line = name, n
			key := strings.ToLower(e.Pool)
			if !seen[key] { // the first mention wins; lists often repeat
				seen[key] = true
				l.Entries = append(l.Entries, e)
			}
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return l, nil
}

// sinkAddrs start the lines of hosts-file blocklists.
var sinkAddrs = map[string]bool{"0.0.0.0": true, "127.0.0.1": true, "::": true, "::1": true}

// localNames appear in hosts files' boilerplate and are not pools.
var localNames = map[string]bool{
	"localhost": true, "localhost.localdomain": true, "local": true, "broadcasthost": true,
	"ip6-localhost": true, "ip6-loopback": true, "ip6-localnet": true, "ip6-mcastprefix": true,
	"ip6-allnodes": true, "ip6-allrouters": true, "ip6-allhosts": true, "0.0.0.0": true,
}

func parseLine(line string) ([]*Entry, error) {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	line = strings.TrimSpace(line)
	if line == "" {
		return nil, nil
	}
	parts := strings.Split(line, ",")
	if len(parts) > 3 {
		return nil, fmt.Errorf("%q has too many fields (want entry[,coin[,source]])", line)
	}
	var coin, source string
	if len(parts) > 1 {
		coin = strings.ToUpper(strings.TrimSpace(parts[1]))
		if !validCoin(coin) {
			return nil, fmt.Errorf("coin %q must be a short ticker like XMR (letters, digits, - _ .)", strings.TrimSpace(parts[1]))
		}
	}
	if len(parts) > 2 {
		source = strings.TrimSpace(parts[2])
	}
	target := strings.TrimSpace(parts[0])

	if fields := strings.Fields(target); len(fields) > 1 {
		if !sinkAddrs[fields[0]] {
			return nil, fmt.Errorf("%q is neither an IP, a CIDR, IP:port, a domain nor a hosts-file line (0.0.0.0 name)", target)
		}
		var out []*Entry
		for _, name := range fields[1:] {
			if localNames[strings.ToLower(name)] {
				continue
			}
			e, err := parseDomain(name)
			if err != nil {
				return nil, err
			}
			e.Coin, e.Source = coin, source
			out = append(out, e)
		}
		return out, nil
	}
	e, err := parseTarget(target)
	if err != nil {
		return nil, err
	}
	e.Coin, e.Source = coin, source
	return []*Entry{e}, nil
}

func parseTarget(s string) (*Entry, error) {
	orig := s
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		// Pool addresses are often copied from miner configs: stratum+tcp://host:port.
		if !strings.HasPrefix(strings.ToLower(scheme), "stratum") {
			return nil, fmt.Errorf("%q: only stratum URLs (stratum+tcp://host:port) are understood", orig)
		}
		s, _, _ = strings.Cut(rest, "/")
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		a = a.Unmap()
		return &Entry{Pool: a.String(), Kind: KindIP, addr: a}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return nil, fmt.Errorf("%q is not a valid CIDR", orig)
		}
		if m := p.Masked(); m != p {
			return nil, fmt.Errorf("%q has host bits set (did you mean %s?)", orig, m)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return &Entry{Pool: p.String(), Kind: KindCIDR, prefix: p}, nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		if ap.Port() == 0 {
			return nil, fmt.Errorf("%q: port 0 is not a port", orig)
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		return &Entry{Pool: ap.String(), Kind: KindIPPort, addr: ap.Addr(), port: ap.Port()}, nil
	}
	if host, port, ok := strings.Cut(s, ":"); ok && !strings.Contains(port, ":") && looksLikeDomain(host) {
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil || p == 0 {
			return nil, fmt.Errorf("%q: %q is not a port (1-65535)", orig, port)
		}
		e, err := parseDomain(host)
		if err != nil {
			return nil, err
		}
		e.port = uint16(p)
		e.Pool = e.domain + ":" + port
		return e, nil
	}
	if !strings.Contains(s, ":") && looksLikeDomain(s) {
		return parseDomain(s)
	}
	return nil, fmt.Errorf("%q is neither an IP, a CIDR, IP:port nor a domain", orig)
}

// looksLikeDomain: has a dot and a last label that is not a number, so that
// "999.1.1.1" is reported as a bad address, not taken for a domain.
func looksLikeDomain(s string) bool {
	s = strings.TrimSuffix(s, ".")
	i := strings.LastIndexByte(s, '.')
	if i < 0 || i == len(s)-1 {
		return false
	}
	for _, c := range s[i+1:] {
		if c < '0' || c > '9' {
			return true
		}
	}
	return false
}

func parseDomain(s string) (*Entry, error) {
	d := strings.ToLower(strings.TrimSuffix(s, "."))
	switch {
	case strings.HasPrefix(d, "*."):
		return nil, fmt.Errorf("%q: wildcards cannot be resolved; list the pool's host names", s)
	case !looksLikeDomain(d):
		return nil, fmt.Errorf("%q is neither an IP, a CIDR, IP:port nor a domain", s)
	case len(d) > 253:
		return nil, fmt.Errorf("%q is longer than a domain may be", s)
	}
	for _, label := range strings.Split(d, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return nil, fmt.Errorf("%q is not a valid domain (label %q)", s, label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if c >= 0x80 {
				return nil, fmt.Errorf("%q: write internationalised domains in their xn-- (punycode) form", s)
			}
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return nil, fmt.Errorf("%q is not a valid domain (character %q)", s, c)
			}
		}
	}
	return &Entry{Pool: d, Kind: KindDomain, domain: d}, nil
}

func validCoin(c string) bool {
	if len(c) > 20 {
		return false
	}
	for i := 0; i < len(c); i++ {
		ch := c[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.') {
			return false
		}
	}
	return true
}

// Format writes the list back in the list format, one canonical entry a
// line (e.g. to merge lists or to publish the bureau's blocklist onward).
func (l *List) Format(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, e := range l.Entries {
		bw.WriteString(e.Pool)
		if e.Coin != "" || e.Source != "" {
			bw.WriteString("," + e.Coin)
		}
		if e.Source != "" {
			bw.WriteString("," + e.Source)
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
