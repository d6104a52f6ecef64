package campaign

import (
	"strings"
	"testing"
)

func TestDeviceKey(t *testing.T) {
	for _, c := range []struct{ mac, account, ip, want string }{
		{"52:54:00:AB:CD:EF", "zhang3", "10.0.0.9", "mac:52:54:00:ab:cd:ef"},
		{"", "zhang3", "10.0.0.9", "account:zhang3"},
		{"", "", "10.0.0.9", "ip:10.0.0.9"},
		{"", "", "", ""},
	} {
		if got := DeviceKey(c.mac, c.account, c.ip); got != c.want {
			t.Errorf("DeviceKey(%q, %q, %q) = %q, want %q", c.mac, c.account, c.ip, got, c.want)
		}
	}
}

// One PC that moved from .50 to .60 by DHCP is two tracker rows (one per
// IP) but one device in the device column and in the count by device.
func TestTrackerFollowsTheDevice(t *testing.T) {
	cfg := testConfig()
	hosts := []HostHistory{
		{HostKey: HostKey{"10.0.0.50", "a"}, Runs: []Interval{{h(9, 0), h(10, 0)}}},
		{HostKey: HostKey{"10.0.0.60", "a"}, Runs: []Interval{{h(10, 0), h(12, 0)}}},
		{HostKey: HostKey{"10.0.0.70", "a"}, Runs: []Interval{{h(11, 0), h(12, 0)}}},
		{HostKey: HostKey{"10.0.0.80", "a"}, Runs: []Interval{{h(11, 0), h(12, 0)}}},
	}
	devices := map[HostKey]string{
		{"10.0.0.50", "a"}: "mac:52:54:00:ab:cd:ef", {"10.0.0.60", "a"}: "mac:52:54:00:ab:cd:ef",
		{"10.0.0.80", "a"}: "account:zhang3",
	}
	rows := Tracker(cfg, TrackerInput{From: h(8, 0), To: h(12, 0), Hosts: hosts, Devices: devices})
	if len(rows) != 4 {
		t.Fatalf("rows %+v", rows)
	}
	want := []string{"mac:52:54:00:ab:cd:ef", "mac:52:54:00:ab:cd:ef", "ip:10.0.0.70", "account:zhang3"}
	for i, r := range rows {
		if r.Device != want[i] {
			t.Errorf("row %s: device %q, want %q", r.IP, r.Device, want[i])
		}
	}
	if n := CountDevices(rows); n != 3 {
		t.Errorf("devices: %d, want 3 (4 IPs, one PC at two of them)", n)
	}
	if n := CountDevices(rows, StateMining); n != 3 {
		t.Errorf("mining devices: %d, want 3", n)
	}
	if n := CountDevices(rows, StateCleared); n != 0 {
		t.Errorf("cleared devices: %d, want 0", n)
	}
	tab := TrackerTable(rows)
	if v, err := tab.Cell(0, "device"); err != nil || v != want[0] {
		t.Errorf("device column: %v %v", v, err)
	}
	hidden := Tracker(cfg, TrackerInput{From: h(8, 0), To: h(12, 0), Hosts: hosts, Devices: devices, HidePersons: true})
	if d := hidden[3].Device; strings.Contains(d, "zhang3") || !strings.HasPrefix(d, DeviceKeyAccount+"#") {
		t.Errorf("hidden persons show the account: %q", d)
	}
	if hidden[0].Device != want[0] {
		t.Errorf("hiding persons changed a MAC key: %q", hidden[0].Device)
	}
}
