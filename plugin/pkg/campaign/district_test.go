package campaign_test

import (
	"context"
	"testing"

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
