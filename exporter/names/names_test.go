package names

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestUnitIDRule(t *testing.T) {
	for _, id := range []string{"zd-no1-middle", "u-a", "d-school-01", "hn.univ_lab", "7", Unassigned} {
		if !ValidUnitID(id) {
			t.Errorf("%q refused", id)
		}
	}
	for _, id := range []string{"", "U-a", "-a", ".a", "_a", "第一中学", "a b", `u-a"} or vector(1)`, "u-a|u-x", "u-.*", "u-a\n", "a/b"} {
		if ValidUnitID(id) {
			t.Errorf("%q accepted", id)
		}
	}
}

// The zone is the real Asia/Shanghai (with its 1986–1991 daylight saving),
// not a fixed +8 that only looks the same today.
func TestLocation(t *testing.T) {
	loc := Location()
	if loc.String() != TimeZone {
		t.Fatalf("zone %q", loc)
	}
	if _, off := time.Date(2026, 12, 1, 0, 0, 0, 0, loc).Zone(); off != 8*3600 {
		t.Errorf("offset in 2026: %d", off)
	}
	if _, off := time.Date(1988, 7, 1, 12, 0, 0, 0, loc).Zone(); off != 9*3600 {
		t.Errorf("offset in July 1988 (daylight saving): %d, want 9 h: not the tz database's zone", off)
	}
}

func TestCatalogueWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range Metrics() {
		if seen[m.Name] || !Ours(m.Name) || strings.Contains(m.Name, ":") {
			t.Errorf("%s: duplicate or not a minewatch_ name", m.Name)
		}
		seen[m.Name] = true
		if (m.Kind == Counter) != strings.HasSuffix(m.Name, "_total") {
			t.Errorf("%s: kind %s but counters, and only they, end in _total", m.Name, m.Kind)
		}
		if m.Kind != Gauge && m.Kind != Counter || m.Help == "" || m.Group == "" {
			t.Errorf("%s: incomplete entry %+v", m.Name, m)
		}
	}
	if len(MetricNames()) != len(seen) {
		t.Error("MetricNames disagrees with Metrics")
	}
	if m, ok := LookupMetric(HostMining); !ok || m.Name != HostMining || m.Labels[2] != "class" {
		t.Errorf("LookupMetric(%s) = %+v, %v", HostMining, m, ok)
	}
	if _, ok := LookupMetric(metricPrefix + "host_not_a_metric"); ok {
		t.Error("LookupMetric finds a name the catalogue does not list")
	}
	labels := Labels()
	if !slices.IsSorted(labels) || !slices.Contains(labels, "research") || slices.Contains(labels, "") {
		t.Errorf("Labels() = %v", labels)
	}
	ids := map[string]bool{}
	for _, s := range Signals() {
		if ids[s.ID] || s.Points == 0 || s.Zh == "" || s.En == "" || s.Graded && s.Points < 0 {
			t.Errorf("signal %+v", s)
		}
		ids[s.ID] = true
		if SignalOf(s.ID) != s {
			t.Errorf("SignalOf(%q)", s.ID)
		}
	}
	if got := SignalOf(StratumProfile).PointsText(); got != "0–35" {
		t.Errorf("stratum points %q", got)
	}
	if got := SignalOf(ResearchAsset).PointsText(); got != "-30" {
		t.Errorf("research points %q", got)
	}
}

func TestSectors(t *testing.T) {
	ids := SectorIDs()
	if len(ids) != len(Sectors()) || len(ids) != 7 || ids[0] != "school" {
		t.Fatalf("sector ids %v", ids)
	}
	for _, s := range Sectors() {
		if s.Zh == "" || s.En == "" || !ValidUnitID(s.ID) {
			t.Errorf("sector %+v", s)
		}
	}
	if got := SectorLabel("soe"); got != "国有企业 SOE" {
		t.Errorf("SectorLabel(soe) = %q", got)
	}
	if got := SectorLabel("farm"); got != "farm" {
		t.Errorf("SectorLabel of an unknown id = %q", got)
	}
}
