package pack

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
)

//go:embed pack.html
var pageText string

var page = template.Must(template.New("pack").Parse(pageText))

type cell struct {
	Text string
	Num  bool
}

type row struct {
	Cells []cell
	Total bool
}

type section struct {
	Title, Note string
	Headers     []string
	Rows        []row
	Chart       template.HTML
}

type kpi struct {
	Label, Value string
	Alert        bool
}

type view struct {
	Title, Period, Selection, Level, JudgedAt, Generated string
	KPIs                                                 []kpi
	Sections                                             []section
	Params                                               []SummaryRow
}

// WriteHTML writes the pack as the HTML page the PDF is printed from
// (Chinese first; A4 landscape).
func WriteHTML(w io.Writer, p Pack) error {
	loc := p.loc()
	sum := p.Summary()
	byKey := map[string]SummaryRow{}
	for _, s := range sum {
		byKey[s.Key] = s
	}
	v := view{
		Title:     "周研判会议材料 Weekly review " + p.Review.Week.String(),
		Period:    byKey["period"].Value,
		Selection: p.Selection,
		Level:     LevelLabel(p.Review.Level),
		JudgedAt:  byKey["judged_at"].Value,
		Generated: campaign.FormatTime(p.Generated, loc),
	}
	for _, k := range []string{"distinct_ips", "distinct_devices", "new", "still_active", "relapsed", "cleared", "cleared_devices", "mining_at_end", "overdue", "repeat_offenders", "energy_kwh", "cost_yuan", "co2_kg"} {
		s := byKey[k]
		alert := (k == "overdue" || k == "repeat_offenders" || k == "mining_at_end") && s.Value != "0"
		v.KPIs = append(v.KPIs, kpi{Label: s.Item, Value: s.Value, Alert: alert})
	}
	for _, k := range []string{"power", "tariff", "grid_factor"} {
		v.Params = append(v.Params, byKey[k])
	}
	for _, s := range p.Sections()[1:] { // the summary is the heading and the figures above
		fields, idx := project(s.Table, s.Keys)
		sec := section{Title: s.Title, Note: s.Note}
		for _, f := range fields {
			sec.Headers = append(sec.Headers, f.Header)
		}
		unitCol, hasUnit := s.Table.Index("unit")
		for r := range s.Table.Rows {
			text := campaign.RowText(s.Table, r, loc)
			var out row
			out.Total = hasUnit && s.Table.Rows[r][unitCol] == campaign.TotalUnit
			for j, i := range idx {
				k := fields[j].Kind
				out.Cells = append(out.Cells, cell{Text: text[i], Num: k == campaign.KindInt || k == campaign.KindFloat})
			}
			sec.Rows = append(sec.Rows, out)
		}
		if s.Table.Fields[0].Key == "week" {
			sec.Chart = trendSVG(s.Table)
		}
		v.Sections = append(v.Sections, sec)
	}
	return page.Execute(w, v)
}

// trendSVG draws distinct IPs per week as bars with the count on each; the
// labels are escaped, the rest is numbers.
func trendSVG(t campaign.Table) template.HTML {
	di, ok := t.Index("distinct_ips")
	if !ok || len(t.Rows) == 0 {
		return ""
	}
	maxV := 1
	for _, r := range t.Rows {
		maxV = max(maxV, r[di].(int))
	}
	const w, h, top, base = 640, 150, 18, 125
	bw := w / len(t.Rows)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="Noto Sans CJK SC, sans-serif" font-size="10">`, w, h)
	for i, r := range t.Rows {
		n := r[di].(int)
		bh := (base - top) * n / maxV
		x := i*bw + bw/5
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#2e75b6"/>`, x, base-bh, bw*3/5, bh)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%d</text>`, x+bw*3/10, base-bh-3, n)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, x+bw*3/10, base+14, html.EscapeString(r[0].(string)))
	}
	fmt.Fprintf(&b, `<line x1="0" y1="%d" x2="%d" y2="%d" stroke="#333"/>`, base, w, base)
	fmt.Fprintf(&b, `<text x="0" y="11">本周涉及IP distinct IPs</text></svg>`)
	return template.HTML(b.String())
}

// Chromium finds the headless browser that prints the PDF: $MINEWATCH_CHROMIUM,
// else Debian's chromium on PATH.
func Chromium() (string, error) {
	if p := os.Getenv("MINEWATCH_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("%w (MINEWATCH_CHROMIUM=%s: %v)", ErrNoChromium, p, err)
		}
		return p, nil
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// ErrNoChromium is returned when no Chromium is found to print a PDF.
var ErrNoChromium = errors.New("PDF 需要 Chromium (the PDF is printed by headless Chromium): apt-get install chromium fonts-noto-cjk, or set MINEWATCH_CHROMIUM")

// WritePDF prints the pack's HTML page to PDF with headless Chromium (A4
// landscape, Chinese fonts from fonts-noto-cjk).
func WritePDF(ctx context.Context, w io.Writer, p Pack) error {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, p); err != nil {
		return err
	}
	return PrintPDF(ctx, w, buf.Bytes())
}

// PrintPDF prints an HTML page (self-contained: styles inline, no external
// resources) to PDF with headless Chromium; the page's CSS @page rule sets
// the paper. The pack and the written report (package report) print this way.
func PrintPDF(ctx context.Context, w io.Writer, page []byte) error {
	bin, err := Chromium()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "minewatch-pdf-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	src, out := filepath.Join(dir, "page.html"), filepath.Join(dir, "page.pdf")
	if err := os.WriteFile(src, page, 0o600); err != nil {
		return err
	}
	// Its own profile directory, so that parallel runs and a desktop session
	// of the same user do not share (and lock) one; no sandbox because the
	// command also runs as root in services and CI, where Chromium's sandbox
	// refuses to start.
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--no-pdf-header-footer",
		"--print-to-pdf="+out, "file://"+src)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("chromium --print-to-pdf: %v\n%s", err, logs.String())
	}
	pdf, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF")) {
		return fmt.Errorf("chromium wrote no PDF (%v):\n%s", err, logs.String())
	}
	_, err = w.Write(pdf)
	return err
}
