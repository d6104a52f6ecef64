// Package radacct reads RADIUS accounting as FreeRADIUS's detail module
// writes it (上网认证日志: one "detail" file of records, each a timestamp
// line followed by tab-indented "Attribute = value" lines and a blank
// line), and answers "which account used this address at that moment".
//
// Records of one session (Acct-Session-Id on one NAS) are joined: Start
// opens it, Interim-Update extends it, Stop closes it (a Stop alone opens
// it Acct-Session-Time before).
package radacct

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/trace/lease"
)

// Record is one accounting record of a detail file.
type Record struct {
	At         time.Time         // Event-Timestamp, else the detail module's Timestamp, else the header line
	Attrs      map[string]string // attribute → value, quotes removed
	Source     string            // file:line of its header
	StatusType string            // Acct-Status-Type: Start, Interim-Update, Stop…
}

// Session is one accounting session: an account on an address, [Start, End).
type Session struct {
	User       string     // User-Name (the 上网认证 account)
	IP         netip.Addr // Framed-IP-Address
	MAC        string     // Calling-Station-Id when it is a MAC (normalised), else ""
	CallingID  string     // Calling-Station-Id as sent
	NAS        string     // NAS-IP-Address or NAS-Identifier
	ID         string     // Acct-Session-Id
	Start, End time.Time  // End zero: still open (no Stop seen)
	Sources    []string   // file:line of its records
}

// Covers reports whether the session was on at t.
func (s Session) Covers(t time.Time) bool {
	return !t.Before(s.Start) && (s.End.IsZero() || !t.After(s.End))
}

// ReadFile reads one detail file; loc is the zone of header lines (the
// server's local time) for records that carry no epoch timestamp.
func ReadFile(path string, loc *time.Location) ([]Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, loc)
}

// Parse reads detail records from data.
func Parse(name string, data []byte, loc *time.Location) ([]Record, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var (
		out  []Record
		errs []error
		cur  *Record
		line int
	)
	finish := func() {
		if cur == nil {
			return
		}
		cur.StatusType = cur.Attrs["Acct-Status-Type"]
		if t, ok := recordTime(cur.Attrs, loc); ok {
			cur.At = t
		}
		if cur.At.IsZero() {
			errs = append(errs, fmt.Errorf("%s: record without a time", cur.Source))
		} else {
			out = append(out, *cur)
		}
		cur = nil
	}
	for sc.Scan() {
		line++
		raw := sc.Text()
		s := strings.TrimSpace(raw)
		switch {
		case s == "":
			finish()
		case raw[0] != ' ' && raw[0] != '\t':
			finish()
			cur = &Record{Attrs: map[string]string{}, Source: fmt.Sprintf("%s:%d", name, line)}
			// "Tue Dec  1 13:00:00 2026": ctime, in the server's zone.
			if t, err := time.ParseInLocation(time.ANSIC, s, loc); err == nil {
				cur.At = t
			} else {
				errs = append(errs, fmt.Errorf("%s:%d: %q is not a detail record's time line", name, line, s))
			}
		case cur == nil:
			errs = append(errs, fmt.Errorf("%s:%d: attribute before any record's time line", name, line))
		default:
			k, v, ok := strings.Cut(s, " = ")
			if !ok {
				errs = append(errs, fmt.Errorf("%s:%d: want \"Attribute = value\", got %q", name, line, s))
				continue
			}
			cur.Attrs[strings.TrimSpace(k)] = unquote(strings.TrimSpace(v))
		}
	}
	finish()
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		if u, err := strconv.Unquote(v); err == nil {
			return u
		}
		return v[1 : len(v)-1]
	}
	return v
}

// recordTime prefers the NAS's Event-Timestamp (the moment of the event),
// then the server's Timestamp (the moment it was received). FreeRADIUS
// prints a date attribute in its own zone ("Nov  5 2025 09:00:00 CST" on
// a server in Beijing): the zone name is read in loc, since Go would take
// an abbreviation it does not know in loc for UTC.
func recordTime(a map[string]string, loc *time.Location) (time.Time, bool) {
	for _, k := range []string{"Event-Timestamp", "Timestamp"} {
		v, ok := a[k]
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.Unix(n, 0), true
		}
		// FreeRADIUS prints dates as "Dec  1 2026 13:00:00 UTC" (or another zone name).
		for _, l := range []string{"Jan _2 2006 15:04:05 MST", "Jan 2 2006 15:04:05 MST"} {
			if t, err := time.ParseInLocation(l, v, loc); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// Sessions joins records into sessions, oldest first. Records without a
// Framed-IP-Address (Accounting-On/Off of a NAS) are not sessions.
func Sessions(recs []Record) []Session {
	type key struct{ nas, id, user string }
	byKey := map[key]*Session{}
	var done []*Session
	for _, r := range recs {
		a := r.Attrs
		ip, err := netip.ParseAddr(a["Framed-IP-Address"])
		if err != nil {
			continue
		}
		nas := a["NAS-IP-Address"]
		if nas == "" {
			nas = a["NAS-Identifier"]
		}
		k := key{nas, a["Acct-Session-Id"], a["User-Name"]}
		s := byKey[k]
		if s == nil || (r.StatusType == "Start" && !s.End.IsZero()) { // new, or the id reused after a Stop
			s = &Session{User: a["User-Name"], IP: ip.Unmap(), CallingID: a["Calling-Station-Id"], NAS: nas, ID: a["Acct-Session-Id"], Start: r.At}
			if mac, ok := lease.NormalMAC(s.CallingID); ok {
				s.MAC = mac
			}
			if r.StatusType != "Start" {
				if st, err := strconv.ParseInt(a["Acct-Session-Time"], 10, 64); err == nil {
					s.Start = r.At.Add(-time.Duration(st) * time.Second)
				}
			}
			byKey[k] = s
			done = append(done, s)
		}
		if r.StatusType == "Stop" {
			s.End = r.At
		}
		s.Sources = append(s.Sources, r.Source)
	}
	out := make([]Session, 0, len(done))
	for _, s := range done {
		out = append(out, *s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// Accounting is the sessions of one or more detail files.
type Accounting struct{ sessions []Session }

// NewAccounting indexes sessions.
func NewAccounting(ss ...[]Session) *Accounting {
	a := &Accounting{}
	for _, s := range ss {
		a.sessions = append(a.sessions, s...)
	}
	sort.SliceStable(a.sessions, func(i, j int) bool { return a.sessions[i].Start.Before(a.sessions[j].Start) })
	return a
}

// Match is the answer of At.
type Match struct {
	Certainty lease.Certainty
	Session   Session   // the session taken (zero for None and Ambiguous)
	Others    []Session // the disagreeing sessions (Ambiguous)
	Distance  time.Duration
}

// At finds the account on ip at t: a session covering t is exact (several
// of one account are one answer, of different accounts ambiguous); without
// one, the session nearest in time within maxGap is taken as nearest.
func (a *Accounting) At(ip netip.Addr, t time.Time, maxGap time.Duration) Match {
	return a.match(func(s Session) bool { return s.IP == ip.Unmap() }, t, maxGap)
}

// OfMAC is At by Calling-Station-Id: the account a device was logged in as.
func (a *Accounting) OfMAC(mac string, t time.Time, maxGap time.Duration) Match {
	m, ok := lease.NormalMAC(mac)
	if !ok {
		return Match{Certainty: lease.None}
	}
	return a.match(func(s Session) bool { return s.MAC == m }, t, maxGap)
}

func (a *Accounting) match(keep func(Session) bool, t time.Time, maxGap time.Duration) Match {
	var covering []Session
	var near Session
	dist := time.Duration(-1)
	for _, s := range a.sessions {
		if !keep(s) {
			continue
		}
		if s.Covers(t) {
			covering = append(covering, s)
			continue
		}
		d := s.Start.Sub(t)
		if d < 0 {
			d = t.Sub(s.End)
		}
		if d <= maxGap && (dist < 0 || d < dist) {
			near, dist = s, d
		}
	}
	if len(covering) > 0 {
		best := covering[len(covering)-1]
		for _, s := range covering {
			if s.User != best.User {
				return Match{Certainty: lease.Ambiguous, Others: covering}
			}
		}
		return Match{Certainty: lease.Exact, Session: best}
	}
	if dist < 0 {
		return Match{Certainty: lease.None}
	}
	return Match{Certainty: lease.Nearest, Session: near, Distance: dist}
}
