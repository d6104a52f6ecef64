package eval

import (
	"strings"
	"testing"

	"github.com/minewatch/minewatch/exporter/score"
	"github.com/minewatch/minewatch/exporter/testsupport"
)

// The real captures go through real softflowd and pmacctd, the exporter's decoder and
// the scorer. What the scorer makes of them is reported, not asserted here
// (the scorer changes; the figures go to docs/eval.md); what is asserted is
// that every capture reached the scorer with its pool endpoints: with the
// pools listed, each miner's host is watched (a pool contact) and, without
// intel, nothing in the results comes from the intel.
func TestRealCapturesThroughRealExporters(t *testing.T) {
	exporters := []Exporter{{"softflowd", testsupport.Require(t, "softflowd")}, {"pmacctd", testsupport.Require(t, "pmacctd")}}
	dir := testsupport.Shared(t, "testdata", "real-mining-pcaps")
	rows, err := Captures(dir, exporters, score.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2*len(exporters)*len(RealCaptures) {
		t.Fatalf("%d rows, want %d", len(rows), 2*len(exporters)*len(RealCaptures))
	}
	var table strings.Builder
	if err := WriteCaptures(&table, rows); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + table.String())
	for _, r := range rows {
		if r.Records == 0 || r.Datagram == 0 {
			t.Errorf("%s of %s: %d datagrams, %d records", r.Exporter, r.Capture, r.Datagram, r.Records)
		}
		if r.Mining && r.Intel && r.Score == 0 {
			t.Errorf("%s with its pools listed: no host watched (the pool endpoints did not reach the scorer)", r.Capture)
		}
		if !r.Intel && strings.Contains(r.Reasons, "intel") {
			t.Errorf("%s without intel: reasons %q name intel", r.Capture, r.Reasons)
		}
		if r.Span <= 0 && r.Records > 1 {
			t.Errorf("%s: records span %.0f s", r.Capture, r.Span)
		}
	}
}
