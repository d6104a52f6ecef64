package flow

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// writeCorpusEnv, set to 1, makes TestFuzzSeedsCommitted write the seeds it
// finds missing instead of failing.
const writeCorpusEnv = "MINEWATCH_WRITE_CORPUS"

// vendorSeeds are the framed fuzz seeds built from the shared real payloads:
// for each device, its template payloads then its data payloads in one input,
// as the device sent them to one collector.
func vendorSeeds(t *testing.T) map[string][]byte {
	dir := payloadDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.dat"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no payloads in %s: %v", dir, err)
	}
	sort.Strings(files)
	groups := map[string][]string{}
	for _, f := range files {
		k := vendorKey(filepath.Base(f))
		groups[k] = append(groups[k], f)
	}
	out := map[string][]byte{}
	for k, fs := range groups {
		if len(fs) < 2 {
			continue // alone: already a seed as it is
		}
		sort.SliceStable(fs, func(i, j int) bool {
			return strings.Contains(filepath.Base(fs[i]), "tpl") && !strings.Contains(filepath.Base(fs[j]), "tpl")
		})
		var dgs [][]byte
		for _, f := range fs {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			dgs = append(dgs, b)
		}
		out["vendor-"+k] = framed(dgs...)
	}
	return out
}

// TestFuzzSeedsCommitted: the committed corpus holds every vendor's framed
// seed, so that the fuzz step starts from whole template+data exchanges of
// real devices on any checkout.
func TestFuzzSeedsCommitted(t *testing.T) {
	write := os.Getenv(writeCorpusEnv) == "1"
	for name, b := range vendorSeeds(t) {
		p := filepath.Join("testdata", "fuzz", "FuzzDecodeNetFlow", name)
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		got, err := os.ReadFile(p)
		if err == nil && string(got) == want {
			continue
		}
		if write {
			if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("fuzz seed %s missing or stale (run with %s=1 and commit it)", p, writeCorpusEnv)
	}
}
