package campaign

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mattn/go-runewidth"
)

// TestTrackerFitsEightyColumns: the tracker's text output keeps every line
// within the width (one record per block) and shows classes, stages and
// sectors in Chinese.
func TestTrackerFitsEightyColumns(t *testing.T) {
	rows := []TrackerRow{{IP: "10.1.0.1", Unit: "u-a", UnitName: "一中", State: StateRelapsed, Class: "passive",
		Pools: strings.Repeat("xmr.pool.example:3333, ", 6), Disposition: "located", DispositionClass: "false-positive",
		DispositionNote: strings.Repeat("学生宿舍私接矿机，", 12), FirstFlagged: h(3, 10), LocateDeadline: h(5, 10)}}
	var b bytes.Buffer
	if err := RenderFit(&b, TrackerTable(rows), "table", cst, 80); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if w := runewidth.StringWidth(l); w > 80 {
			t.Errorf("line %d columns wide: %q", w, l)
		}
	}
	for _, want := range []string{"── 1/1 ", "被动(木马) passive", "已定位 located", "误报 false-positive", "复发", "2026-11-03 10:00", "学生宿舍私接矿机"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := RenderFit(&b, ReviewTable([]ReviewRow{{Unit: "u-a", UnitName: "一中", Sector: "school"}}), "table", cst, 800); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "学校 school") || strings.Contains(b.String(), "── 1/1") {
		t.Errorf("a review that fits is a table with Chinese sectors:\n%s", b.String())
	}
}
