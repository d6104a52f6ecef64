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

// The weekly review counts by device beside the IP counts: a PC (one MAC)
// that DHCP moved from .50 to .60 is, by IP, cleared at .50 and new at .60;
// by device it is one episode that goes on (持续), neither cleared nor new,
// and its case, reported while it was at .50, is not overdue. The IP counts
// are the same as without devices.
func TestWeeklyReviewCountsDevices(t *testing.T) {
	cfg := testConfig()
	w, _ := ParseWeek("2026-W46") // 9–16 Nov
	mac := DeviceKey("52:54:00:ab:cd:ef", "", "")
	hosts := []HostHistory{
		// the PC at .50 in the previous week (3 Nov 10:00 – 5 Nov 12:00), reported
		{HostKey: HostKey{"10.0.0.50", "a"}, Runs: []Interval{{h(3, 10), h(5, 12)}},
			Dispositions: []Disposition{{Stage: "reported", At: h(4, 9)}}},
		// the same PC at .60 from 10 Nov 09:00 to 11 Nov 09:00, nothing recorded for .60
		{HostKey: HostKey{"10.0.0.60", "a"}, Runs: []Interval{{h(10, 9), h(11, 9)}}},
		// an IP whose device is not known: a device of its own; new, mining at the week's end, overdue
		{HostKey: HostKey{"10.0.0.70", "a"}, Runs: []Interval{{h(12, 10), h(16, 0)}}},
	}
	devices := map[HostKey]string{{"10.0.0.50", "a"}: mac, {"10.0.0.60", "a"}: mac}
	in := ReviewInput{Week: w, Now: h(30, 0), Hosts: hosts}
	plain := WeeklyReview(cfg, in)
	in.Devices = devices
	rows := WeeklyReview(cfg, in)
	if len(rows) != 2 || rows[0].Unit != "a" || rows[1].Unit != TotalUnit {
		t.Fatalf("rows %+v", rows)
	}
	// By IP: .50 was flagged last week and cleared (5 Nov 12:00 + 7 d) in this
	// one; .60 and .70 are new, both missed their 48 h deadline.
	wantIP := DeviceCounts{MiningAtEnd: 1, New: 2, Cleared: 1, Distinct: 2, PrevDistinct: 1, Change: 1, Overdue: 2}
	// By device: the PC is still active (its episode began on 3 Nov, the gap
	// of 4 d 21 h is shorter than the quiet period) and reported; .70 as by IP.
	wantDev := DeviceCounts{MiningAtEnd: 1, New: 1, Distinct: 2, PrevDistinct: 1, Change: 1, Overdue: 1}
	for _, r := range rows {
		if got := r.IPCounts(); got != wantIP {
			t.Errorf("%s IP counts %+v, want %+v", r.Unit, got, wantIP)
		}
		if r.Devices != wantDev {
			t.Errorf("%s device counts %+v, want %+v", r.Unit, r.Devices, wantDev)
		}
		if r.StillActive() != 0 || r.Devices.StillActive() != 1 {
			t.Errorf("%s still active: %d IPs, %d devices; want 0 and 1", r.Unit, r.StillActive(), r.Devices.StillActive())
		}
	}
	// The IP counts do not change with devices known; without, devices are the IPs.
	for i := range rows {
		a, b := rows[i], plain[i]
		if b.Devices != b.IPCounts() {
			t.Errorf("%s without devices: device counts %+v, IP counts %+v", b.Unit, b.Devices, b.IPCounts())
		}
		a.Devices, b.Devices = DeviceCounts{}, DeviceCounts{}
		if a != b {
			t.Errorf("IP counts changed by devices:\n%+v\n%+v", a, b)
		}
	}
	// The table has the device columns beside the IP ones, Chinese first.
	tab := ReviewTable(rows)
	for key, want := range map[string]int{"new": 2, "new_devices": 1, "cleared": 1, "cleared_devices": 0, "still_active_devices": 1, "distinct_devices": 2} {
		if v, err := tab.Cell(1, key); err != nil || v != want {
			t.Errorf("total %s = %v (%v), want %d", key, v, err, want)
		}
	}
	if i, ok := tab.Index("new_devices"); !ok || tab.Fields[i].Header != "新增设备 new devices" {
		t.Errorf("new_devices header: %v", tab.Fields)
	}
	// A roll-up adds the device counts up as it adds the IP counts.
	units := map[string]UnitMeta{"a": {ID: "a", District: "d"}, "d": {ID: "d"}}
	if up := RollUp(rows, units, LevelDistrict); len(up) != 2 || up[0].Devices != wantDev {
		t.Errorf("roll-up %+v", up)
	}
}
