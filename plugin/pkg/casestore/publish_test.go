package casestore_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/casestore/storetest"
)

// TestWriteStateIsTheLatestPerStage: the gauges vmalert reads carry the
// latest time of each stage, and nothing of the note (free text naming people).
func TestWriteStateIsTheLatestPerStage(t *testing.T) {
	t0 := time.Date(2026, 11, 16, 9, 0, 0, 0, time.UTC)
	st, _ := storetest.Seeded(t, []vmtest.Disposal{
		{IP: "10.1.0.5", Unit: "u-a", Stage: "located", Class: "active", Note: "张同学的电脑", At: t0},
		{IP: "10.1.0.5", Unit: "u-a", Stage: "located", Class: "active", Note: "复核", At: t0.Add(time.Hour)},
		{IP: "10.1.0.5", Unit: "u-a", Stage: "reported", Class: "active", Note: "", At: t0.Add(2 * time.Hour)},
		{IP: "10.2.0.9", Unit: "u-b", Stage: "closed", Class: "false-positive", Note: "科研", At: t0.Add(3 * time.Hour)},
		{IP: "10.3.0.1", Unit: "u-c", Stage: "closed", Class: "passive", Note: "too old", At: t0.Add(-200 * 24 * time.Hour)},
	})
	var b bytes.Buffer
	if err := st.WriteState(context.Background(), &b, t0.Add(4*time.Hour), 180*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	want := `minewatch_case_disposition{ip="10.1.0.5",unit="u-a",stage="located",class="active"} 1794823200
minewatch_case_disposition{ip="10.1.0.5",unit="u-a",stage="reported",class="active"} 1794826800
minewatch_case_disposition{ip="10.2.0.9",unit="u-b",stage="closed",class="false-positive"} 1794830400
`
	if b.String() != want {
		t.Errorf("state:\n%s\nwant:\n%s", b.String(), want)
	}
}
