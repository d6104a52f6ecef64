package report

import (
	"bytes"
	"context"
	"html/template"
	"io"
	"strings"

	"github.com/minewatch/minewatch/plugin/pkg/pack"
)

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"lines": func(s string) []string { return strings.Split(s, "\n") },
}).Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
@page { size: A4; margin: 2.2cm 2.5cm; }
body { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", "SimSun", serif; font-size: 12pt; line-height: 1.6; }
h1 { font-size: 18pt; text-align: center; margin: 0 0 4pt; }
.sub { text-align: center; margin: 0 0 14pt; }
h2 { font-size: 14pt; margin: 14pt 0 6pt; }
table { border-collapse: collapse; width: 100%; }
td, th { border: 1px solid #000; padding: 3pt 6pt; vertical-align: top; text-align: left; }
th, td.k { font-weight: bold; }
td.k { width: 28%; }
table.steps th:nth-child(1) { width: 21%; } table.steps th:nth-child(2) { width: 12%; }
table.steps th:nth-child(3) { width: 18%; } table.steps th:nth-child(5) { width: 19%; }
p { margin: 0 0 4pt; }
.foot { font-size: 9pt; margin-top: 18pt; }
</style></head><body>
<h1>{{.Title}}</h1>
<p class="sub">（IP清零专项行动 书面报告）</p>
{{range .Blocks}}{{$b := .}}
{{if .Heading}}<h2>{{.Heading}}</h2>{{end}}
{{range .Paras}}<p>{{range $i, $l := lines .}}{{if $i}}<br>{{end}}{{$l}}{{end}}</p>{{end}}
{{if .Table}}<table{{if .Header}} class="steps"{{end}}>{{range $r, $row := .Table}}<tr>{{range $i, $c := $row}}{{if and $b.Header (eq $r 0)}}<th>{{$c}}</th>{{else if $b.TwoCol}}<td{{if eq $i 0}} class="k"{{end}}>{{$c}}</td>{{else}}<td>{{$c}}</td>{{end}}{{end}}</tr>{{end}}</table>{{end}}
{{end}}
<p class="foot">{{.Footer}}</p>
</body></html>
`))

type htmlBlock struct {
	Heading string
	Paras   []string
	Table   [][]string
	Header  bool
	TwoCol  bool
}

// WriteHTML writes the report as the HTML page the PDF is printed from.
func WriteHTML(w io.Writer, r Report) error {
	var bs []htmlBlock
	for _, b := range r.blocks() {
		bs = append(bs, htmlBlock{Heading: b.heading, Paras: b.paras, Table: b.table, Header: b.header, TwoCol: len(b.table) > 0 && len(b.table[0]) == 2})
	}
	return page.Execute(w, struct {
		Title, Footer string
		Blocks        []htmlBlock
	}{r.Title(), footer, bs})
}

// WritePDF prints the report to PDF with headless Chromium (pack.PrintPDF);
// without Chromium it returns pack.ErrNoChromium.
func WritePDF(ctx context.Context, w io.Writer, r Report) error {
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		return err
	}
	return pack.PrintPDF(ctx, w, b.Bytes())
}
