package pack_test

import (
	"archive/zip"
	"bytes"
	"context"
	"flag"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/xuri/excelize/v2"

	"github.com/minewatch/minewatch/exporter/testsupport"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/casestore/storetest"
	"github.com/minewatch/minewatch/plugin/pkg/pack"
)

var (
	screenshot = flag.Bool("screenshot", false, "write the PDF's first page to docs/screenshots/pack-2026-W45.png")
	keep       = flag.String("keep", "", "keep the PDF and its pages in this directory, to look at them")
)

// seededReview is the review of 2026-W45 over the seeded campaign (a real
// VictoriaMetrics and a real SQLite case store), at a level, and the plain
// per-unit review to compare it with.
func seededReview(t *testing.T) (*campaign.Source, campaign.Week) {
	t.Helper()
	vm := vmtest.Start(t)
	vm.Import(t, vmtest.Campaign())
	vm.Flush(t)
	c, err := api.NewClient(api.Config{Address: vm.URL})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := storetest.Campaign(t)
	w, _ := campaign.ParseWeek("2026-W45")
	return &campaign.Source{API: v1.NewAPI(c), Config: campaign.DefaultConfig(), Dispositions: st}, w
}

var now = vmtest.At(2026, 11, 22, 12, 0)

// TestPackNumbersAreTheReviews: the workbook's sheets and the PDF's text
// carry exactly the review's cells for the demo's week (2026-W45 of the
// seeded campaign), per unit and rolled up per district.
func TestPackNumbersAreTheReviews(t *testing.T) {
	src, w := seededReview(t)
	ctx := context.Background()
	plain, err := src.WeeklyReview(ctx, campaign.Filter{}, w, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := src.Review(ctx, campaign.Filter{}, campaign.LevelUnit, w, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(plain, rev.Rows, cmpopts.EquateApprox(0, 1e-9)); d != "" {
		t.Fatalf("the pack's review differs from the plain review:\n%s", d)
	}
	// the seeded campaign: u-d relapsed twice in 365 d, the only repeat offender
	if len(rev.Repeat) != 1 || rev.Repeat[0].Unit != "u-d" {
		t.Errorf("repeat offenders: %+v", rev.Repeat)
	}
	if n := len(rev.Trend); n != campaign.TrendWeeks || rev.Trend[n-1].Week != w || rev.Trend[n-1].DistinctIPs != 6 || rev.Trend[n-2].DistinctIPs != 3 {
		t.Errorf("trend: %+v", rev.Trend)
	}
	p := pack.Pack{Review: rev, Selection: pack.Selection(campaign.Filter{}), Generated: now}

	t.Run("xlsx", func(t *testing.T) {
		var b bytes.Buffer
		if err := pack.WriteXLSX(&b, p); err != nil {
			t.Fatal(err)
		}
		f, err := excelize.OpenReader(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Sections() {
			got, err := f.GetRows(s.Sheet)
			if err != nil {
				t.Fatalf("sheet %s: %v", s.Sheet, err)
			}
			want := [][]string{headers(s.Table)}
			for r := range s.Table.Rows {
				want = append(want, campaign.RowText(s.Table, r, campaign.Location()))
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("sheet %s (-review +xlsx):\n%s", s.Sheet, d)
			}
		}
		zr, err := zip.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
		if err != nil {
			t.Fatal(err)
		}
		charts := 0
		for _, zf := range zr.File {
			if strings.HasPrefix(zf.Name, "xl/charts/chart") {
				charts++
			}
		}
		if charts != 1 {
			t.Errorf("%d charts in the workbook, want the trend's", charts)
		}
	})

	t.Run("pdf", func(t *testing.T) {
		testsupport.Require(t, "chromium")
		pdftotext := testsupport.Require(t, "pdftotext")
		pdftoppm := testsupport.Require(t, "pdftoppm")
		dir := t.TempDir()
		if *keep != "" {
			dir = *keep
		}
		pdf := filepath.Join(dir, "pack.pdf")
		var b bytes.Buffer
		if err := pack.WritePDF(ctx, &b, p); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pdf, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(pdftotext, "-layout", pdf, "-").Output()
		if err != nil {
			t.Fatal(err)
		}
		text := string(out)
		lines := map[string]bool{}
		for _, l := range strings.Split(text, "\n") {
			lines[strings.Join(strings.Fields(l), " ")] = true
		}
		// every unit row and the total row, as the review prints them (the PDF's columns)
		tab := campaign.ReviewTable(rev.Rows)
		for _, keys := range [][]string{pack.UnitKeys, pack.DeviceKeys, pack.EnergyKeys} {
			for r := range tab.Rows {
				want := strings.Join(strings.Fields(strings.Join(pick(tab, r, keys), " ")), " ")
				if !lines[want] {
					t.Errorf("the PDF has no line %q:\n%s", want, text)
				}
			}
		}
		// the summary's figures (total row), e.g. 110.22 kWh, 121.24 元
		tot := rev.Units[len(rev.Units)-1]
		for _, s := range p.Summary() {
			switch s.Key {
			case "distinct_ips", "distinct_devices", "cleared_devices", "energy_kwh", "cost_yuan", "co2_kg":
				if !strings.Contains(text, s.Value) {
					t.Errorf("the PDF lacks %s = %s", s.Key, s.Value)
				}
			}
		}
		if campaign.Round2(tot.KWh) != 110.22 || campaign.Round2(tot.Yuan) != 121.24 {
			t.Errorf("total energy %v kWh %v 元, want 110.22 and 121.24 (ExpectedReview)", tot.KWh, tot.Yuan)
		}
		for _, s := range []string{"周研判会议材料", "反复复发单位", "热电厂", "取消本年度评先评优资格", "能耗、电费与碳排放", "按设备计数", "本周涉及设备"} {
			if !strings.Contains(text, s) {
				t.Errorf("the PDF lacks %q", s)
			}
		}
		// pages to PNG: the first page is a real picture
		if out, err := exec.Command(pdftoppm, "-png", "-r", "90", pdf, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v %s", err, out)
		}
		pages, _ := filepath.Glob(filepath.Join(dir, "page-*.png"))
		if len(pages) == 0 {
			t.Fatal("pdftoppm made no page")
		}
		first, err := os.ReadFile(pages[0])
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(first))
		if err != nil {
			t.Fatal(err)
		}
		if bd := img.Bounds(); bd.Dx() <= bd.Dy() {
			t.Errorf("first page %v: want A4 landscape", bd)
		}
		t.Logf("%d pages; first page %v", len(pages), img.Bounds())
		if *screenshot {
			dst := filepath.Join(testsupport.RepoRoot(t), "docs", "screenshots", "pack-2026-W45.png")
			if err := os.WriteFile(dst, first, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("district", func(t *testing.T) {
		d, err := src.Review(ctx, campaign.Filter{}, campaign.LevelDistrict, w, now, nil)
		if err != nil {
			t.Fatal(err)
		}
		// d-east = u-a + u-b, d-west = u-c + u-d, d-secret = u-x (ExpectedReview)
		want := map[string][3]int{"d-east": {3, 2, 1}, "d-west": {2, 0, 1}, "d-secret": {1, 0, 0}, campaign.TotalUnit: {6, 2, 2}}
		if len(d.Rows) != len(want) {
			t.Fatalf("district rows: %+v", d.Rows)
		}
		for _, r := range d.Rows {
			if g := [3]int{r.DistinctIPs, r.New, r.Relapsed}; g != want[r.Unit] {
				t.Errorf("%s: distinct, new, relapsed = %v, want %v", r.Unit, g, want[r.Unit])
			}
		}
		// a pack for one district: only its units
		east, err := src.Review(ctx, campaign.Filter{Under: []string{"d-east"}}, campaign.LevelUnit, w, now, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(east.Rows) != 3 || east.Rows[0].Unit != "u-a" || east.Rows[1].Unit != "u-b" || east.Rows[2].DistinctIPs != 3 {
			t.Errorf("under d-east: %+v", east.Rows)
		}
	})
}

func headers(t campaign.Table) []string {
	out := make([]string, len(t.Fields))
	for i, f := range t.Fields {
		out[i] = f.Header
	}
	return out
}

func pick(t campaign.Table, r int, keys []string) []string {
	text := campaign.RowText(t, r, campaign.Location())
	var out []string
	for _, k := range keys {
		if i, ok := t.Index(k); ok {
			out = append(out, text[i])
		}
	}
	return out
}
