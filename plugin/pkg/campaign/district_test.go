package campaign_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
)

// TestDistrictNames: a district is a unit of the ledger (the parent of its
// units), and the review shows it as "name id" — also when the filter names
// only the units below it (the ledger read is then narrowed to them, and the
// district's own entry is read on its own), and never outside the admin scope.
func TestDistrictNames(t *testing.T) {
	vm := vmtest.Start(t)
	vm.Import(t, vmtest.Campaign())
	var s vmtest.Series
	s.Unit("d-east", "东城区教育局", "institution", "", at(2025, 12, 1, 0, 0), at(2026, 11, 12, 0, 0))
	vm.Import(t, s.Lines)
	vm.Flush(t)
	ctx := context.Background()
	w, err := campaign.ParseWeek("2026-W45")
	if err != nil {
		t.Fatal(err)
	}
	now := at(2026, 11, 12, 0, 0)
	district := func(src *campaign.Source, f campaign.Filter) map[string]string {
		t.Helper()
		rev, err := src.Review(ctx, f, campaign.LevelUnit, w, now, nil)
		if err != nil {
			t.Fatal(err)
		}
		tab := campaign.ReviewTableOf(rev.Rows, rev.Running)
		out := map[string]string{}
		for r := range tab.Rows {
			u, err1 := tab.Cell(r, "unit")
			d, err2 := tab.Cell(r, "district")
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			out[u.(string)] = d.(string)
		}
		return out
	}
	for name, c := range map[string]struct {
		scope []string
		f     campaign.Filter
		want  map[string]string
	}{
		"whole ledger":  {nil, campaign.Filter{}, map[string]string{"u-a": "东城区教育局 d-east", "u-c": "d-west"}},
		"units only":    {nil, campaign.Filter{Units: []string{"u-a", "u-c"}}, map[string]string{"u-a": "东城区教育局 d-east", "u-c": "d-west"}},
		"outside scope": {[]string{"u-a", "u-c"}, campaign.Filter{Units: []string{"u-a"}}, map[string]string{"u-a": "d-east"}},
	} {
		got := district(source(t, vm.URL, c.scope...), c.f)
		for u, want := range c.want {
			if got[u] != want {
				t.Errorf("%s: district of %s = %q, want %q (all: %v)", name, u, got[u], want, got)
			}
		}
	}
}

// TestDistrictsAreNoUnitsInSituation: a district's ledger entry reports
// minewatch_unit_info like any unit, but the situation counts must not show
// it as a unit at zero (a clean unit in the unit ranking, a group of its own
// sector); its units still count, and so do hosts listed on the district
// itself (a shared egress). Old behaviour: d-east appeared with 0 in the unit
// grouping and as an "institution" group with 0 in the sector grouping.
func TestDistrictsAreNoUnitsInSituation(t *testing.T) {
	vm := vmtest.Start(t)
	vm.Import(t, vmtest.Campaign())
	var s vmtest.Series
	begin, end := at(2025, 12, 1, 0, 0), at(2026, 11, 12, 0, 0)
	s.Unit("d-east", "东城区教育局", "institution", "", begin, end)
	s.Unit("d-west", "西城区教育局", "government", "", begin, end)
	s.Flag("10.8.0.1", "d-west", "active", at(2026, 11, 5, 10, 10), at(2026, 11, 5, 12, 10), 90) // behind the district's shared egress
	vm.Import(t, s.Lines)
	vm.Flush(t)
	ctx := context.Background()
	from, to, moment := at(2026, 11, 5, 0, 0), at(2026, 11, 5, 12, 0), at(2026, 11, 5, 11, 0)
	// counts returns each group's count at moment, and the groups seen at all.
	counts := func(src *campaign.Source, f campaign.Filter, groupBy string) (map[string]float64, []string) {
		t.Helper()
		ser, err := src.Situation(ctx, f, groupBy, from, to, time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, groups := map[string]float64{}, []string{}
		for _, s := range ser {
			groups = append(groups, s.Group)
			for i, ts := range s.Times {
				if ts.Equal(moment) {
					got[s.Group] = s.Values[i]
				}
			}
		}
		return got, groups
	}
	// in (10:00, 11:00] of 5 Nov: 10.1.0.2 (u-a), 10.4.0.1 (u-d), 10.9.0.1 (u-x), 10.8.0.1 (d-west itself)
	for name, c := range map[string]struct {
		scope   []string
		f       campaign.Filter
		groupBy string
		want    map[string]float64
	}{
		"units":                 {nil, campaign.Filter{}, "unit", map[string]float64{"u-a": 1, "u-b": 0, "u-c": 0, "u-d": 1, "u-x": 1, "d-west": 1}},
		"sectors":               {nil, campaign.Filter{}, "sector", map[string]float64{"school": 1, "government": 2, "soe": 1}},
		"units under d-east":    {nil, campaign.Filter{Under: []string{"d-east"}}, "unit", map[string]float64{"u-a": 1, "u-b": 0}},
		"the district alone":    {nil, campaign.Filter{Units: []string{"d-east"}}, "unit", map[string]float64{}},
		"scoped to d-east":      {[]string{"d-east", "u-a", "u-b"}, campaign.Filter{}, "unit", map[string]float64{"u-a": 1, "u-b": 0}},
		"total":                 {nil, campaign.Filter{}, "total", map[string]float64{campaign.TotalUnit: 4}},
		"districts (own units)": {nil, campaign.Filter{Units: []string{"u-a", "u-b", "u-c", "u-d"}}, "district", map[string]float64{"d-east": 1, "d-west": 1}},
	} {
		got, groups := counts(source(t, vm.URL, c.scope...), c.f, c.groupBy)
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%s: counts at %s (-want +got):\n%s", name, moment.Format("01-02 15:04"), d)
		}
		for _, g := range groups {
			if g == "d-east" && c.groupBy == "unit" || g == "institution" {
				t.Errorf("%s: group %q shows the district d-east as a unit (groups %v)", name, g, groups)
			}
		}
	}
}
