package ledger

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckNotEmpty(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		empty      bool
	}{
		{"truncated file", "", true},
		{"no units key", "assets: []\n", true},
		{"units without ranges", "units:\n  - {id: edu, name: 教育局, sector: government}\n", true},
		{"one range", "units:\n  - {id: edu, name: 教育局, sector: government, cidrs: [10.0.0.0/8]}\n", false},
	} {
		l, err := Parse("ledger.yaml", []byte(tc.yaml))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		err = l.CheckNotEmpty()
		if got := errors.Is(err, ErrEmpty); got != tc.empty {
			t.Errorf("%s: CheckNotEmpty = %v, want empty=%v", tc.name, err, tc.empty)
		}
	}
}

func TestLoadInUseRefusesEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.yaml")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := LoadInUse([]string{path}, nil, false)
	if l != nil || !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), "ledger.allow_empty") {
		t.Fatalf("empty ledger: %v, %v; want ErrEmpty naming ledger.allow_empty", l, err)
	}
	if reloadGauge.Get() != 0 {
		t.Errorf("minewatch_ledger_last_reload_success = %v after a refused ledger, want 0", reloadGauge.Get())
	}
	l, err = LoadInUse([]string{path}, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, true)
	if err != nil || l == nil {
		t.Fatalf("allowed empty ledger: %v", err)
	}
	if reloadGauge.Get() != 1 || unitsGauge.Get() != 0 {
		t.Errorf("after an allowed empty ledger: success=%v units=%v, want 1 and 0", reloadGauge.Get(), unitsGauge.Get())
	}
}
