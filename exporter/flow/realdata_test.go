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

	"github.com/minewatch/minewatch/exporter/testsupport"
)

// payloadDir is the shared folder of real vendor payloads (see testsupport.SharedDir).
func payloadDir(tb testing.TB) string {
	tb.Helper()
	return testsupport.Shared(tb, "testdata", "real-exports", "netflow-ipfix-payloads")
}

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
func decodeRealPayloads(t testing.TB, slowOnly ...bool) (map[string]*decoded, *Decoder) {
	return decodeRealPayloadsWith(t, func(d *Decoder) { d.slowOnly = len(slowOnly) > 0 && slowOnly[0] })
}

// decodeRealPayloadsWith is decodeRealPayloads with the decoder set up by setup.
func decodeRealPayloadsWith(t testing.TB, setup func(*Decoder)) (map[string]*decoded, *Decoder) {
	dir := payloadDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.dat"))
	if err != nil || len(files) < 50 {
		t.Fatalf("real payloads missing in %s: %v (%d files)", dir, err, len(files))
	}
	sort.SliceStable(files, func(i, j int) bool {
		ti, tj := strings.Contains(filepath.Base(files[i]), "tpl"), strings.Contains(filepath.Base(files[j]), "tpl")
		return ti && !tj
	})
	// The payloads were exported years before recv: compare their times on
	// the exporters' own clocks (the clock check has tests of its own).
	d := NewDecoder(Options{Metrics: metrics.NewSet(), Configuration: Configuration{ClockTolerance: 20 * 365 * 24 * time.Hour}})
	setup(d)
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

// TestFastPathAgreesOnRealPayloads decodes every vendor's payloads with the
// in-place fast path and with goflow2's path only: the records must be the same.
func TestFastPathAgreesOnRealPayloads(t *testing.T) {
	fast, _ := decodeRealPayloads(t)
	slow, _ := decodeRealPayloads(t, true)
	total := 0
	for name, f := range fast {
		s := slow[name]
		if len(f.records) != len(s.records) || len(f.errs) != len(s.errs) {
			t.Errorf("%s: fast path %d records %v, goflow2 path %d records %v", name, len(f.records), f.errs, len(s.records), s.errs)
			continue
		}
		for i := range f.records {
			if f.records[i] != s.records[i] {
				t.Errorf("%s record %d: fast %+v, goflow2 %+v", name, i, f.records[i], s.records[i])
				break
			}
		}
		total += len(f.records)
	}
	if total == 0 {
		t.Fatal("no records decoded")
	}
	t.Logf("%d payloads, %d records alike on both paths", len(fast), total)
}
