package lease

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func utc(h, m int) time.Time { return time.Date(2025, 11, 5, h, m, 0, 0, time.UTC) }

var ip = netip.MustParseAddr

func history(t *testing.T, path string, want Format) *History {
	t.Helper()
	ls, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return NewHistory(ls)
}

type lookup struct {
	ip     string
	at     time.Time
	maxGap time.Duration
	want   Certainty
	mac    string
	source string // suffix of Lease.Source
	dist   time.Duration
}

func check(t *testing.T, h *History, cases []lookup) {
	t.Helper()
	for _, c := range cases {
		m := h.At(ip(c.ip), c.at, c.maxGap)
		if m.Certainty != c.want || m.Lease.MAC != c.mac || !strings.HasSuffix(m.Lease.Source, c.source) || m.Distance != c.dist {
			t.Errorf("At(%s, %s): %s %s %s %s, want %s %s %s %s", c.ip, c.at.Format("15:04"), m.Certainty, m.Lease.MAC, m.Lease.Source, m.Distance,
				c.want, c.mac, c.source, c.dist)
		}
	}
}

func TestKea(t *testing.T) {
	h := history(t, "testdata/kea-leases4.csv", Kea)
	day := 24 * time.Hour
	check(t, h, []lookup{
		{"10.20.3.50", utc(1, 15), day, Exact, "52:54:00:aa:00:01", ":2", 0},
		{"10.20.3.50", utc(1, 45), day, Exact, "52:54:00:aa:00:01", ":4", 0}, // the renewal is the latest grant
		{"10.20.3.50", utc(3, 30), day, Nearest, "52:54:00:aa:00:09", ":9", 50 * time.Minute},
		{"10.20.3.50", utc(3, 30), 10 * time.Minute, None, "", "", 0},
		{"10.20.3.60", utc(3, 30), day, Exact, "52:54:00:aa:00:01", ":5", 0},
		{"10.20.3.52", utc(1, 30), day, None, "", "", 0}, // declined: binds nobody
	})
	if got := h.OfMAC("52-54-00-AA-00-01"); len(got) != 3 || got[2].IP != ip("10.20.3.60") || got[0].Hostname != "lab301-pc" {
		t.Errorf("OfMAC: %+v", got)
	}
}

func TestKeaDeletionEndsTheLease(t *testing.T) {
	// The PC moved from .50 to .60 at 01:20; Kea deleted its .50 lease as it granted .60.
	data := "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n" +
		"10.20.3.50,52:54:00:aa:00:01,,3600,1762308000,1,0,0,,0,\n" + // 01:00–02:00
		"10.20.3.60,52:54:00:aa:00:01,,3600,1762309200,1,0,0,,0,\n" + // 01:20–02:20
		"10.20.3.50,52:54:00:aa:00:01,,0,1762304400,1,0,0,,0,\n"
	ls, err := Parse(Kea, "leases.csv", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	check(t, NewHistory(ls), []lookup{
		{"10.20.3.50", utc(1, 10), time.Hour, Exact, "52:54:00:aa:00:01", ":2", 0},
		{"10.20.3.50", utc(1, 30), time.Hour, Nearest, "52:54:00:aa:00:01", ":2", 10 * time.Minute},
	})
}

func TestISC(t *testing.T) {
	h := history(t, "testdata/dhcpd.leases", ISC)
	check(t, h, []lookup{
		{"10.21.0.10", utc(2, 0), time.Hour, Exact, "52:54:00:bb:00:01", ":6", 0},
		{"10.21.0.10", utc(2, 20), time.Hour, Nearest, "52:54:00:bb:00:01", ":6", 5 * time.Minute}, // freed at 02:15
		{"10.21.0.10", utc(3, 0), time.Hour, Exact, "52:54:00:bb:00:03", ":33", 0},
		{"10.21.0.11", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), time.Hour, Exact, "52:54:00:bb:00:02", ":17", 0}, // ends never
		{"10.21.0.11", utc(1, 0), time.Hour, Nearest, "52:54:00:bb:00:02", ":17", 30 * time.Minute},
	})
	if ls := h.OfMAC("52:54:00:bb:00:01"); len(ls) != 1 || ls[0].Hostname != "office-pc" {
		t.Errorf("OfMAC: %+v", ls)
	}
}

func TestDnsmasq(t *testing.T) {
	h := history(t, "testdata/dnsmasq.leases", Dnsmasq)
	// dnsmasq keeps no start: a lease that has not expired is only the nearest guess.
	check(t, h, []lookup{
		{"10.22.0.100", utc(2, 0), time.Hour, Nearest, "52:54:00:cc:00:01", ":1", 0},
		{"10.22.0.100", utc(4, 0), 2 * time.Hour, Nearest, "52:54:00:cc:00:01", ":1", time.Hour},
		{"10.22.0.101", utc(2, 0), time.Hour, Nearest, "52:54:00:cc:00:02", ":2", 0}, // infinite lease
	})
	if ls := h.OfMAC("52:54:00:cc:00:02"); len(ls) != 1 || ls[0].Hostname != "" || !ls[0].End.IsZero() {
		t.Errorf("infinite lease: %+v", ls)
	}
	if m := h.At(ip("2001:db8:22::100"), utc(2, 0), time.Hour); m.Certainty != None {
		t.Errorf("a DHCPv6 lease was read as IPv4: %+v", m)
	}
}

func TestAmbiguous(t *testing.T) {
	ls := []Lease{
		{IP: ip("10.0.0.5"), MAC: "52:54:00:00:00:01", Start: utc(1, 0), End: utc(3, 0), Source: "a:1"},
		{IP: ip("10.0.0.5"), MAC: "52:54:00:00:00:02", Start: utc(2, 0), End: utc(4, 0), Source: "b:1"},
	}
	m := NewHistory(ls).At(ip("10.0.0.5"), utc(2, 30), time.Hour)
	if m.Certainty != Ambiguous || len(m.Others) != 2 || m.Lease.MAC != "" {
		t.Errorf("two MACs on one address: %+v", m)
	}
}

func TestBadFiles(t *testing.T) {
	for _, c := range []struct {
		name, data, want string
	}{
		{"kea bad MAC", "address,hwaddr,client_id,valid_lifetime,expire\n10.0.0.1,zz:zz,,3600,1762308000\n", "leases:2: hwaddr \"zz:zz\" is not a MAC address"},
		{"kea bad address", "address,hwaddr,client_id,valid_lifetime,expire\n10.0.0.300,52:54:00:00:00:01,,3600,1762308000\n", "leases:2: address \"10.0.0.300\""},
		{"kea without expire", "address,hwaddr,valid_lifetime\n", "leases:1: Kea lease file without column \"expire\""},
		{"isc bad time", "lease 10.0.0.1 {\n  starts 3 2025/13/05 01:00:00;\n  hardware ethernet 52:54:00:00:00:01;\n}\n", "leases:2: starts"},
		{"isc cut short", "lease 10.0.0.1 {\n  starts 3 2025/11/05 01:00:00;\n", "leases:1: lease block not closed"},
		{"dnsmasq bad MAC", "1762311600 52:54:00:cc:00:01 10.22.0.100 pc *\n1762311600 nonsense 10.22.0.101 pc *\n", "leases:2: \"nonsense\" is not a MAC address"},
		{"unknown", "hello world\n", "not a Kea, ISC dhcpd or dnsmasq lease file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Detect([]byte(c.data))
			if err == nil {
				_, err = Parse(f, "leases", []byte(c.data))
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v, want %q", err, c.want)
			}
		})
	}
}

func TestNormalMAC(t *testing.T) {
	for in, want := range map[string]string{"52:54:00:AB:CD:EF": "52:54:00:ab:cd:ef", "52-54-00-ab-cd-ef": "52:54:00:ab:cd:ef",
		"5254.00ab.cdef": "52:54:00:ab:cd:ef", "525400abcdef": "52:54:00:ab:cd:ef", `"52-54-00-AB-CD-EF"`: "52:54:00:ab:cd:ef", "lab-wifi": ""} {
		if got, _ := NormalMAC(in); got != want {
			t.Errorf("NormalMAC(%q) = %q, want %q", in, got, want)
		}
	}
}
