package lease

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

func lineErr(name string, line int, format string, a ...any) error {
	return fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, a...))
}

func epoch(s string) (time.Time, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(n, 0), nil
}

// parseKea reads Kea's memfile lease4 CSV. Every grant and renewal is a row
// (address, hwaddr, valid_lifetime, expire, …, state): the lease ran from
// expire-valid_lifetime to expire. A row with valid_lifetime 0 records a
// deletion (a release, or the client moved to another address) and ends
// the lease; a row in state 1 (declined) or 2 (expired-reclaimed) binds
// nobody.
func parseKea(name string, data []byte) ([]Lease, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, lineErr(name, 1, "header: %v", err)
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.TrimSpace(h)] = i
	}
	for _, c := range []string{"address", "hwaddr", "valid_lifetime", "expire"} {
		if _, ok := idx[c]; !ok {
			return nil, lineErr(name, 1, "Kea lease file without column %q", c)
		}
	}
	var out []Lease
	var errs []error
	var newest time.Time // start of the newest lease row read so far
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			errs = append(errs, lineErr(name, line, "%v", err))
			continue
		}
		get := func(c string) string {
			if i, ok := idx[c]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		ip, err := netip.ParseAddr(get("address"))
		if err != nil {
			errs = append(errs, lineErr(name, line, "address %q: %v", get("address"), err))
			continue
		}
		life, err1 := strconv.ParseInt(get("valid_lifetime"), 10, 64)
		exp, err2 := epoch(get("expire"))
		if err1 != nil || err2 != nil {
			errs = append(errs, lineErr(name, line, "valid_lifetime %q / expire %q are not numbers", get("valid_lifetime"), get("expire")))
			continue
		}
		if st := get("state"); st == "1" || st == "2" {
			continue // a lease that binds nobody: see the comment above
		}
		mac, ok := NormalMAC(get("hwaddr"))
		if !ok {
			errs = append(errs, lineErr(name, line, "hwaddr %q is not a MAC address", get("hwaddr")))
			continue
		}
		if life == 0 {
			// A deletion: appended when it happened, so after the newest row
			// before it. That row's time is when the lease ended at the
			// earliest (Kea deletes a client's old lease as it grants the new one).
			for i := len(out) - 1; i >= 0; i-- {
				if l := &out[i]; l.IP == ip.Unmap() && l.MAC == mac {
					end := newest
					if end.Before(l.Start) {
						end = l.Start
					}
					if l.End.After(end) {
						l.End = end
					}
					break
				}
			}
			continue
		}
		l := Lease{IP: ip.Unmap(), MAC: mac, Hostname: get("hostname"),
			Start: exp.Add(-time.Duration(life) * time.Second), End: exp, Source: fmt.Sprintf("%s:%d", name, line)}
		if l.Start.After(newest) {
			newest = l.Start
		}
		out = append(out, l)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return endAtReassignment(out), nil
}

// endAtReassignment ends a lease where its address was granted to another
// MAC: the server gives an address to someone else only once it is free, and
// the files do not always say when it became free (Kea's deletion row
// carries the lease's own times, not the release's).
func endAtReassignment(ls []Lease) []Lease {
	last := map[netip.Addr]int{}
	for i, l := range ls {
		if j, ok := last[l.IP]; ok && ls[j].MAC != l.MAC && ls[j].Covers(l.Start) && !l.Start.IsZero() {
			for k := range ls[:i] {
				if ls[k].IP == l.IP && ls[k].MAC != l.MAC && ls[k].Covers(l.Start) {
					ls[k].End = l.Start
				}
			}
		}
		last[l.IP] = i
	}
	return ls
}

// iscTime reads the time of an ISC dhcpd.leases statement: "3 2026/12/02
// 05:00:00" (weekday, date, time in UTC), "epoch 1764651600" or "never".
func iscTime(v string) (time.Time, bool, error) {
	f := strings.Fields(v)
	switch {
	case len(f) == 1 && f[0] == "never":
		return time.Time{}, true, nil
	case len(f) >= 2 && f[0] == "epoch":
		t, err := epoch(f[1])
		return t, false, err
	case len(f) == 3:
		t, err := time.Parse("2006/01/02 15:04:05", f[1]+" "+f[2])
		return t, false, err
	}
	return time.Time{}, false, fmt.Errorf("unrecognised time %q", v)
}

// parseISC reads ISC dhcpd's lease database: one "lease IP { … }" block per
// state change, appended. An active block starts a lease; a later free,
// released or expired block of the same address and MAC ends it at its
// "ends" time (or its "cltt", the moment of the change).
func parseISC(name string, data []byte) ([]Lease, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var (
		out      []Lease
		errs     []error
		cur      *Lease
		curState string
		curCltt  time.Time
		at       int
		line     int
	)
	open := map[netip.Addr]int{} // address → index of its active lease in out
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if cur == nil {
			if strings.HasPrefix(s, "lease ") && strings.HasSuffix(s, "{") {
				addr := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(s, "lease "), "{"))
				ip, err := netip.ParseAddr(addr)
				if err != nil {
					errs = append(errs, lineErr(name, line, "lease address %q: %v", addr, err))
					ip = netip.Addr{}
				}
				cur, curState, curCltt, at = &Lease{IP: ip.Unmap()}, "", time.Time{}, line
			}
			continue // server-duid, authoring-byte-order, failover blocks…: not leases
		}
		if s == "}" {
			if cur.IP.IsValid() {
				cur.Source = fmt.Sprintf("%s:%d", name, at)
				switch curState {
				case "active", "":
					if cur.MAC == "" {
						errs = append(errs, lineErr(name, at, "active lease of %s without hardware ethernet", cur.IP))
						break
					}
					if j, ok := open[cur.IP]; ok && out[j].MAC != cur.MAC && out[j].Covers(cur.Start) {
						out[j].End = cur.Start
					}
					open[cur.IP] = len(out)
					out = append(out, *cur)
				default: // free, released, expired, abandoned, backup
					if j, ok := open[cur.IP]; ok && (cur.MAC == "" || out[j].MAC == cur.MAC) {
						end := cur.End
						if !curCltt.IsZero() && (end.IsZero() || curCltt.Before(end)) {
							end = curCltt
						}
						if !end.IsZero() && (out[j].End.IsZero() || end.Before(out[j].End)) {
							out[j].End = end
						}
						delete(open, cur.IP)
					}
				}
			}
			cur = nil
			continue
		}
		key, val, _ := strings.Cut(statement(s), " ")
		val = strings.TrimSpace(val)
		switch key {
		case "starts", "ends", "cltt":
			t, _, err := iscTime(val)
			if err != nil {
				errs = append(errs, lineErr(name, line, "%s: %v", key, err))
				continue
			}
			switch key {
			case "starts":
				cur.Start = t
			case "ends":
				cur.End = t
			case "cltt":
				curCltt = t
			}
		case "binding":
			curState = strings.TrimPrefix(val, "state ")
		case "hardware":
			f := strings.Fields(val)
			if len(f) != 2 {
				errs = append(errs, lineErr(name, line, "hardware %q", val))
				continue
			}
			mac, ok := NormalMAC(f[1])
			if !ok {
				errs = append(errs, lineErr(name, line, "hardware address %q is not a MAC", f[1]))
				continue
			}
			cur.MAC = mac
		case "client-hostname":
			cur.Hostname = strings.Trim(val, `"`)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	if cur != nil {
		errs = append(errs, lineErr(name, at, "lease block not closed (file cut short?)"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// parseDnsmasq reads dnsmasq's leases file: "expiry MAC IP hostname
// client-id" per IPv4 lease (expiry in Unix seconds, 0 for infinite). The
// file holds only current leases, so Start is unknown. After a "duid" line
// come DHCPv6 leases, keyed by IAID, not MAC: not read (this trace is IPv4).
func parseDnsmasq(name string, data []byte) ([]Lease, error) {
	var out []Lease
	var errs []error
	for i, raw := range strings.Split(string(data), "\n") {
		line := i + 1
		s := strings.TrimSpace(raw)
		if s == "" {
			continue
		}
		f := strings.Fields(s)
		if f[0] == "duid" {
			break
		}
		if len(f) < 4 {
			errs = append(errs, lineErr(name, line, "want \"expiry MAC IP hostname [client-id]\", got %q", s))
			continue
		}
		exp, err := epoch(f[0])
		if err != nil {
			errs = append(errs, lineErr(name, line, "expiry %q is not a number", f[0]))
			continue
		}
		mac, ok := NormalMAC(f[1])
		if !ok {
			errs = append(errs, lineErr(name, line, "%q is not a MAC address", f[1]))
			continue
		}
		ip, err := netip.ParseAddr(f[2])
		if err != nil {
			errs = append(errs, lineErr(name, line, "%q is not an IP address", f[2]))
			continue
		}
		l := Lease{IP: ip.Unmap(), MAC: mac, Source: fmt.Sprintf("%s:%d", name, line)}
		if f[3] != "*" {
			l.Hostname = f[3]
		}
		if exp.Unix() != 0 {
			l.End = exp
		}
		out = append(out, l)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// statement is a dhcpd.leases line up to its ';' outside quotes (dropping
// a trailing "# Wed Nov 05 01:30:00 2025" comment).
func statement(s string) string {
	quoted := false
	for i, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ';' && !quoted:
			return s[:i]
		}
	}
	return s
}
