package radacct

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/plugin/pkg/trace/lease"
)

func utc(h, m int) time.Time { return time.Date(2025, 11, 5, h, m, 0, 0, time.UTC) }

func TestDetailFile(t *testing.T) {
	recs, err := ReadFile("testdata/detail-20251105", names.Location()) // the header lines are in Beijing time
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 || recs[0].StatusType != "Start" || recs[0].Attrs["User-Name"] != "lisi" || !recs[0].At.Equal(utc(1, 0)) {
		t.Fatalf("records: %+v", recs)
	}
	if !recs[1].At.Equal(utc(1, 30)) { // no Event-Timestamp: the server's Timestamp
		t.Errorf("interim at %s", recs[1].At)
	}
	if !recs[3].At.Equal(utc(2, 5)) { // neither: the header line, in the server's zone
		t.Errorf("header-only record at %s", recs[3].At)
	}
	ss := Sessions(recs)
	if len(ss) != 2 {
		t.Fatalf("sessions: %+v", ss)
	}
	lisi, wangwu := ss[0], ss[1]
	if lisi.User != "lisi" || lisi.MAC != "52:54:00:aa:00:01" || !lisi.Start.Equal(utc(1, 0)) || !lisi.End.Equal(utc(2, 0)) || len(lisi.Sources) != 3 ||
		lisi.Sources[0] != "testdata/detail-20251105:1" {
		t.Errorf("lisi: %+v", lisi)
	}
	// A Stop alone: started Acct-Session-Time before; Calling-Station-Id is not a MAC.
	if wangwu.User != "wangwu" || wangwu.MAC != "" || wangwu.CallingID != "lab-wifi" || wangwu.NAS != "lab-ac" || !wangwu.Start.Equal(utc(1, 55)) {
		t.Errorf("wangwu: %+v", wangwu)
	}
	a := NewAccounting(ss)
	for _, c := range []struct {
		ip   string
		at   time.Time
		want lease.Certainty
		user string
		dist time.Duration
	}{
		{"10.20.3.50", utc(1, 30), lease.Exact, "lisi", 0},
		{"10.20.3.50", utc(2, 30), lease.Nearest, "lisi", 30 * time.Minute},
		{"10.20.3.50", utc(9, 0), lease.None, "", 0},
		{"10.20.3.51", utc(2, 0), lease.Exact, "wangwu", 0},
	} {
		m := a.At(netip.MustParseAddr(c.ip), c.at, time.Hour)
		if m.Certainty != c.want || m.Session.User != c.user || m.Distance != c.dist {
			t.Errorf("At(%s, %s) = %s %q %s, want %s %q %s", c.ip, c.at.Format("15:04"), m.Certainty, m.Session.User, m.Distance, c.want, c.user, c.dist)
		}
	}
	if m := a.OfMAC("52-54-00-AA-00-01", utc(1, 45), time.Hour); m.Certainty != lease.Exact || m.Session.User != "lisi" {
		t.Errorf("OfMAC: %+v", m)
	}
}

// A server in Beijing prints Event-Timestamp in CST: that is +08:00, not UTC.
func TestEventTimestampInServerZone(t *testing.T) {
	recs, err := Parse("detail", []byte("Wed Nov  5 09:00:05 2025\n\tUser-Name = \"x\"\n\tEvent-Timestamp = \"Nov  5 2025 09:00:00 CST\"\n"), names.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !recs[0].At.Equal(utc(1, 0)) {
		t.Errorf("Event-Timestamp in CST read as %s, want 01:00 UTC", recs[0].At.UTC())
	}
}

func TestAmbiguousAccounts(t *testing.T) {
	ip := netip.MustParseAddr("10.0.0.5")
	a := NewAccounting([]Session{{User: "a", IP: ip, Start: utc(1, 0)}, {User: "b", IP: ip, Start: utc(2, 0)}})
	if m := a.At(ip, utc(3, 0), time.Hour); m.Certainty != lease.Ambiguous || len(m.Others) != 2 {
		t.Errorf("two open sessions of two accounts: %+v", m)
	}
}

func TestBadDetail(t *testing.T) {
	for _, c := range []struct{ data, want string }{
		{"Wed Nov  5 09:00:05 2025\n\tUser-Name \"x\"\n", "detail:2: want \"Attribute = value\""},
		{"\tUser-Name = \"x\"\n", "detail:1: attribute before any record's time line"},
		{"yesterday\n\tUser-Name = \"x\"\n", "detail:1: \"yesterday\" is not a detail record's time line"},
	} {
		if _, err := Parse("detail", []byte(c.data), time.UTC); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.data, err, c.want)
		}
	}
}
