// Package lease reads DHCP servers' lease files — Kea's memfile CSV
// (kea-leases4.csv), ISC dhcpd's dhcpd.leases and dnsmasq's leases file —
// into one history of which MAC held which IPv4 address when, and answers
// "which MAC had this address at that moment, and how sure is that".
//
// The files are read as the servers write them; nothing is asked of the
// server. Kea and ISC dhcpd append every grant and renewal, so their files
// are a history (until the server compacts them); dnsmasq keeps only the
// current leases with their expiry, so its leases have no known start.
package lease

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"
)

// Lease is one binding of an address to a MAC for [Start, End).
type Lease struct {
	IP       netip.Addr
	MAC      string // lower-case, colon-separated
	Hostname string
	Start    time.Time // zero: unknown (dnsmasq)
	End      time.Time // zero: never expires
	Source   string    // file:line it was read from
}

// Covers reports whether the lease held at t.
func (l Lease) Covers(t time.Time) bool {
	return (l.Start.IsZero() || !t.Before(l.Start)) && (l.End.IsZero() || t.Before(l.End))
}

// NormalMAC renders a hardware address as lower-case colon-separated hex
// (52:54:00:ab:cd:ef), accepting the forms servers and NAS write (colons,
// dashes, dots, bare hex). ok is false for anything else.
func NormalMAC(s string) (string, bool) {
	s = strings.TrimSpace(strings.Trim(strings.TrimSpace(s), `"`))
	if hw, err := net.ParseMAC(s); err == nil && len(hw) == 6 {
		return hw.String(), true
	}
	bare := strings.NewReplacer("-", "", ":", "", ".", "").Replace(s)
	if len(bare) == 12 {
		if hw, err := net.ParseMAC(bare[0:2] + ":" + bare[2:4] + ":" + bare[4:6] + ":" + bare[6:8] + ":" + bare[8:10] + ":" + bare[10:12]); err == nil {
			return hw.String(), true
		}
	}
	return "", false
}

// Format names a lease file format.
type Format string

// The formats read.
const (
	Kea     Format = "kea"     // Kea memfile CSV lease4 file
	ISC     Format = "isc"     // ISC dhcpd.leases
	Dnsmasq Format = "dnsmasq" // dnsmasq leases file
)

// Detect tells the format from a file's content.
func Detect(data []byte) (Format, error) {
	first, _, _ := bytes.Cut(bytes.TrimLeft(data, "\r\n\t "), []byte("\n"))
	switch {
	case bytes.HasPrefix(first, []byte("address,hwaddr")):
		return Kea, nil
	case bytes.Contains(data, []byte("lease ")) && bytes.Contains(data, []byte("{")):
		return ISC, nil
	case len(bytes.TrimSpace(data)) == 0:
		return "", errors.New("empty lease file")
	}
	// dnsmasq: "expiry mac ip hostname client-id" lines.
	if f := strings.Fields(string(first)); len(f) >= 4 {
		if _, ok := NormalMAC(f[1]); ok {
			if _, err := netip.ParseAddr(f[2]); err == nil {
				return Dnsmasq, nil
			}
		}
	}
	return "", fmt.Errorf("not a Kea, ISC dhcpd or dnsmasq lease file (first line %q)", string(first))
}

// ReadFile reads a lease file of any of the three formats.
func ReadFile(path string) ([]Lease, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Detect(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return Parse(f, path, data)
}

// Parse reads data of format f; name is used in Source and in errors.
func Parse(f Format, name string, data []byte) ([]Lease, error) {
	switch f {
	case Kea:
		return parseKea(name, data)
	case ISC:
		return parseISC(name, data)
	case Dnsmasq:
		return parseDnsmasq(name, data)
	}
	return nil, fmt.Errorf("unknown lease file format %q", f)
}

// History is the leases of one or more files, by address.
type History struct {
	byIP  map[netip.Addr][]Lease // sorted by Start
	byMAC map[string][]Lease
}

// NewHistory indexes leases.
func NewHistory(ls ...[]Lease) *History {
	h := &History{byIP: map[netip.Addr][]Lease{}, byMAC: map[string][]Lease{}}
	for _, set := range ls {
		for _, l := range set {
			h.byIP[l.IP] = append(h.byIP[l.IP], l)
			h.byMAC[l.MAC] = append(h.byMAC[l.MAC], l)
		}
	}
	for _, v := range h.byIP {
		sort.SliceStable(v, func(i, j int) bool { return v[i].Start.Before(v[j].Start) })
	}
	for _, v := range h.byMAC {
		sort.SliceStable(v, func(i, j int) bool { return v[i].Start.Before(v[j].Start) })
	}
	return h
}

// Certainty says how a link of a trace was made.
type Certainty string

// The certainties of a lease lookup (and of the other links of a trace).
const (
	Exact     Certainty = "exact"     // a record covers the moment
	Nearest   Certainty = "nearest"   // no record covers it; the closest one in time was taken
	Ambiguous Certainty = "ambiguous" // several records cover it and disagree
	None      Certainty = "none"      // no record at all
)

// Label is the Chinese (English) name of a certainty, for the case page.
func (c Certainty) Label() string {
	switch c {
	case Exact:
		return "确定 exact"
	case Nearest:
		return "推测 nearest"
	case Ambiguous:
		return "不确定 ambiguous"
	case None:
		return "无记录 none"
	}
	return string(c)
}

// Match is the answer of At.
type Match struct {
	Certainty Certainty
	Lease     Lease         // the lease taken (zero for None and Ambiguous)
	Others    []Lease       // the disagreeing leases (Ambiguous)
	Distance  time.Duration // Nearest: how far the lease is from the moment
}

// At finds the MAC that held ip at t. A lease covering t is exact; several
// covering leases of one MAC (renewals) are one answer, of different MACs
// ambiguous; without one, the lease nearest in time within maxGap is taken
// as nearest.
func (h *History) At(ip netip.Addr, t time.Time, maxGap time.Duration) Match {
	ls := h.byIP[ip.Unmap()]
	var covering, unknownStart []Lease
	for _, l := range ls {
		switch {
		case !l.Covers(t):
		case l.Start.IsZero():
			unknownStart = append(unknownStart, l) // dnsmasq: held until End, since when unknown
		default:
			covering = append(covering, l)
		}
	}
	if len(covering) > 0 {
		best := covering[len(covering)-1] // the latest grant
		for _, l := range covering {
			if l.MAC != best.MAC {
				return Match{Certainty: Ambiguous, Others: covering}
			}
		}
		return Match{Certainty: Exact, Lease: best}
	}
	if len(unknownStart) > 0 {
		// The binding may have begun after t: as good as the nearest, no better.
		return Match{Certainty: Nearest, Lease: unknownStart[len(unknownStart)-1]}
	}
	var (
		near Lease
		dist time.Duration = -1
	)
	for _, l := range ls {
		d := gap(l, t)
		if d <= maxGap && (dist < 0 || d < dist) {
			near, dist = l, d
		}
	}
	if dist < 0 {
		return Match{Certainty: None}
	}
	return Match{Certainty: Nearest, Lease: near, Distance: dist}
}

// OfMAC lists the leases a MAC held, oldest first (the addresses a device
// moved across).
func (h *History) OfMAC(mac string) []Lease {
	m, ok := NormalMAC(mac)
	if !ok {
		return nil
	}
	return append([]Lease(nil), h.byMAC[m]...)
}

func gap(l Lease, t time.Time) time.Duration {
	switch {
	case !l.Start.IsZero() && t.Before(l.Start):
		return l.Start.Sub(t)
	case !l.End.IsZero() && !t.Before(l.End):
		return t.Sub(l.End)
	}
	return 0
}
