package flow

import (
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

const payloadDir = "/work/shared/testdata/real-exports/netflow-ipfix-payloads"

// vendorKey groups the template and data payloads of one device: the file
// name up to its first data/template token.
func vendorKey(name string) string {
	parts := strings.Split(strings.TrimSuffix(name, ".dat"), "_")
	for i, p := range parts {
		if strings.HasPrefix(p, "data") || strings.HasPrefix(p, "tpl") || strings.HasPrefix(p, "opttpl") {
			return strings.Join(parts[:i], "_")
		}
	}
	return strings.Join(parts, "_")
}

type decoded struct {
	records []Record
	errs    []error
}

// decodeRealPayloads feeds every payload, each vendor from its own source
// address, template payloads before data payloads.
func decodeRealPayloads(t testing.TB) (map[string]*decoded, *Decoder) {
	files, err := filepath.Glob(filepath.Join(payloadDir, "*.dat"))
	if err != nil || len(files) < 50 {
		t.Fatalf("real payloads missing in %s: %v (%d files)", payloadDir, err, len(files))
	}
	sort.SliceStable(files, func(i, j int) bool {
		ti, tj := strings.Contains(filepath.Base(files[i]), "tpl"), strings.Contains(filepath.Base(files[j]), "tpl")
		return ti && !tj
	})
	d := NewDecoder(Options{Metrics: metrics.NewSet()})
	srcs := map[string]netip.AddrPort{}
	out := map[string]*decoded{}
	recv := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, f := range files {
		name := filepath.Base(f)
		key := vendorKey(name)
		src, ok := srcs[key]
		if !ok {
			src = netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(len(srcs) + 1)}), 2055)
			srcs[key] = src
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dd := &decoded{}
		err = d.DecodeNetFlow(src, recv, b, func(r *Record) { dd.records = append(dd.records, *r) })
		if err != nil {
			dd.errs = append(dd.errs, err)
		}
		out[name] = dd
	}
	return out, d
}

func TestDumpRealPayloads(t *testing.T) {
	if os.Getenv("DUMP") == "" {
		t.Skip("set DUMP=1 to print every decode")
	}
	out, _ := decodeRealPayloads(t)
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		dd := out[n]
		t.Logf("%s: %d records, errs %v", n, len(dd.records), dd.errs)
		for i, r := range dd.records {
			if i < 3 {
				t.Logf("   %+v", r)
			}
		}
	}
}
