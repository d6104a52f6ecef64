// Package example_test checks the runnable example set of deploy/example:
// the configurations load with the exporter's own loader, every file they
// name exists and parses, and the README's "Running it for real" commands
// name only files that exist.
package example_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/minewatch/minewatch/exporter/config"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/ledger"
)

const root = "../.."

// TestExampleConfigsLoad loads the example configuration and the format
// reference with config.Load, then every ledger, asset and intel file they
// name with the exporter's parsers.
func TestExampleConfigsLoad(t *testing.T) {
	for _, path := range []string{"exporter.yaml", filepath.Join(root, "exporter/config/example.yaml")} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatalf("config.Load(%s): %v", path, err)
			}
			if len(cfg.Ledger.Files) == 0 || len(cfg.Intel.Files) == 0 || len(cfg.Intel.Allowlist) == 0 {
				t.Fatalf("%s names ledger %v, intel %v, allowlist %v: the example must show each", path,
					cfg.Ledger.Files, cfg.Intel.Files, cfg.Intel.Allowlist)
			}
			for _, f := range append(append(append([]string{}, cfg.Ledger.Files...), cfg.Intel.Files...), cfg.Intel.Allowlist...) {
				if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
					t.Errorf("%s names %s, which is not a file: %v", path, f, err)
				}
			}
			led, err := ledger.Load(cfg.Ledger.Files, cfg.Ledger.ExtraInternal)
			if err != nil {
				t.Fatalf("ledger of %s: %v", path, err)
			}
			if len(led.Units()) < 2 {
				t.Errorf("ledger of %s has %d units", path, len(led.Units()))
			}
			// Assets come from both the YAML ledger and the CSV table.
			for _, ip := range []string{"10.20.3.21", "10.22.5.7", "2001:db8:22:1::15"} {
				a := led.Asset(netip.MustParseAddr(ip))
				if a == nil {
					t.Errorf("ledger of %s: asset %s missing", path, ip)
				} else if u, _ := led.Classify(a.IP); u == nil || u.ID != a.Unit {
					t.Errorf("asset %s of unit %s lies outside its unit's ranges", ip, a.Unit)
				}
			}
			if a := led.Asset(netip.MustParseAddr("10.22.5.7")); a != nil && !a.Research {
				t.Errorf("assets.csv marks 10.22.5.7 as research (是), the ledger reads %+v", a)
			}
			for _, f := range append(append([]string{}, cfg.Intel.Files...), cfg.Intel.Allowlist...) {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				l, err := intel.Parse(f, data)
				if err != nil {
					t.Errorf("intel %s: %v", f, err)
				} else if len(l.Entries) == 0 {
					t.Errorf("intel %s has no entries", f)
				}
			}
			store := intel.NewStore(intel.Options{Lists: cfg.Intel.Files, Allowlists: cfg.Intel.Allowlist})
			if err := store.Load(); err != nil {
				t.Errorf("intel store of %s: %v", path, err)
			}
		})
	}
}

// TestReadmeUsesTheExampleSet: every repository path in the README's
// "Running it for real" block exists, and the configuration it starts the
// exporter with is this example.
func TestReadmeUsesTheExampleSet(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## Running it for real")
	if !ok {
		t.Fatal(`README.md has no "## Running it for real" section`)
	}
	_, block, ok := strings.Cut(rest, "```sh\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal(`"Running it for real" has no sh block`)
	}
	cfg := regexp.MustCompile(`minewatch-exporter --config\.file=(\S+)`).FindStringSubmatch(block)
	if cfg == nil || cfg[1] != "deploy/example/exporter.yaml" {
		t.Errorf("the README starts the exporter with %v, want --config.file=deploy/example/exporter.yaml", cfg)
	}
	paths := regexp.MustCompile(`(?:deploy|exporter|alerts)/[\w./-]+\.(?:ya?ml|csv|txt)`).FindAllString(block, -1)
	if len(paths) < 3 {
		t.Errorf("the README's commands name only %v", paths)
	}
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("the README's commands name %s: %v", p, err)
		}
	}
}
