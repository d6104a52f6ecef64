package vmtest

import (
	"regexp"
	"strconv"
	"testing"
)

// TestSeededMiningHasMachines: the exporter writes minewatch_host_machines
// beside every minewatch_host_mining=1 and never below 1 (score's machines
// estimate counts a mining host as one machine at least), so the seeded
// history must too; without it the unit dashboard's 估计矿机数 and the
// tracker's machines read 0 for a host mining now (10.1.0.2).
func TestSeededMiningHasMachines(t *testing.T) {
	line := regexp.MustCompile(`^(minewatch_host_mining|minewatch_host_machines)\{ip="([^"]+)",unit="([^"]+)"(?:,class="[^"]*")?\} (\S+) (\d+)$`)
	type key struct{ ip, unit, ts string }
	mining := map[key]bool{}
	machines := map[key]float64{}
	lines := append(Campaign(), ConfirmedPools()...)
	for _, l := range lines {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		k := key{m[2], m[3], m[5]}
		if m[1] == "minewatch_host_mining" {
			mining[k] = mining[k] || v == 1
		} else {
			machines[k] = v
		}
	}
	n := 0
	for k, on := range mining {
		if !on {
			continue
		}
		n++
		if v, ok := machines[k]; !ok || v < 1 {
			t.Errorf("%s (%s) mining at %s with machines %v (written: %v)", k.ip, k.unit, k.ts, v, ok)
		}
	}
	if n == 0 {
		t.Fatal("no mining sample seeded")
	}
	if machines[key{"10.1.0.1", "u-a", strconv.FormatInt(At(2026, 11, 4, 10, 10).UnixMilli(), 10)}] != 3 {
		t.Error("10.1.0.1 should be seeded with 3 machines")
	}
}
