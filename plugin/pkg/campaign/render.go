package campaign

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/minewatch/minewatch/exporter/excelcsv"
)

// Render writes a table with no width limit (see RenderFit).
func Render(w io.Writer, t Table, format string, loc *time.Location) error {
	return RenderFit(w, t, format, loc, 0)
}

// RenderFit writes a table as "table" (aligned text, CJK-aware, at most
// width columns wide: a table wider than that is written one record per
// block), "csv" (UTF-8 with BOM, excelcsv) or "json" (an array of objects keyed by the English column
// keys; times RFC 3339 in loc, null for none). width <= 0 means no limit.
func RenderFit(w io.Writer, t Table, format string, loc *time.Location, width int) error {
	switch format {
	case "json":
		out := make([]map[string]any, 0, len(t.Rows))
		for _, row := range t.Rows {
			m := make(map[string]any, len(row))
			for i, c := range t.Fields {
				v := row[i]
				if tm, ok := v.(time.Time); ok {
					if tm.IsZero() {
						v = nil
					} else {
						v = tm.In(loc).Format(time.RFC3339)
					}
				}
				m[c.Key] = v
			}
			out = append(out, m)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(out)
	case "csv":
		cw := excelcsv.NewWriter(w) // UTF-8 with BOM: Excel on Chinese Windows
		head := make([]string, len(t.Fields))
		for i, c := range t.Fields {
			head[i] = c.Header
		}
		if err := cw.Write(head); err != nil {
			return err
		}
		for _, row := range t.Rows {
			if err := cw.Write(cells(t.Fields, row, loc, false)); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case "table", "":
		grid := [][]string{make([]string, len(t.Fields))}
		for i, c := range t.Fields {
			grid[0][i] = c.Header
		}
		for _, row := range t.Rows {
			grid = append(grid, cells(t.Fields, row, loc, true))
		}
		widths := make([]int, len(t.Fields))
		total := 0
		for _, r := range grid {
			for i, s := range r {
				widths[i] = max(widths[i], runewidth.StringWidth(s))
			}
		}
		for _, wd := range widths {
			total += wd + 2
		}
		if width > 0 && total-2 > width {
			return blocks(w, t.Fields, grid[1:], width)
		}
		var b strings.Builder
		for _, r := range grid {
			for i, s := range r {
				if i > 0 {
					b.WriteString("  ")
				}
				b.WriteString(s)
				if i < len(r)-1 {
					b.WriteString(strings.Repeat(" ", widths[i]-runewidth.StringWidth(s)))
				}
			}
			b.WriteString("\n")
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	return fmt.Errorf("bad format %q: want table, json or csv", format)
}

// blocks writes one record per block: a rule with the record's number, then
// "header  value" lines, empty values left out, long values wrapped, no line
// wider than width.
func blocks(w io.Writer, fields []Field, rows [][]string, width int) error {
	hw := 0
	for _, f := range fields {
		hw = max(hw, runewidth.StringWidth(f.Header))
	}
	hw = min(hw, width/2)
	var b strings.Builder
	for n, r := range rows {
		title := fmt.Sprintf("── %d/%d ", n+1, len(rows))
		b.WriteString(title + strings.Repeat("─", max(0, width-runewidth.StringWidth(title))) + "\n")
		for i, s := range r {
			if s == "" {
				continue
			}
			head := runewidth.Truncate(fields[i].Header, hw, "…")
			pad := strings.Repeat(" ", hw-runewidth.StringWidth(head))
			for k, line := range wrap(s, width-hw-2) {
				if k == 0 {
					b.WriteString(head + pad + "  " + line + "\n")
				} else {
					b.WriteString(strings.Repeat(" ", hw+2) + line + "\n")
				}
			}
		}
	}
	if len(rows) == 0 {
		b.WriteString("(无记录 no rows)\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// wrap cuts s into pieces at most width display columns wide.
func wrap(s string, width int) []string {
	if width < 8 {
		width = 8
	}
	var out []string
	for runewidth.StringWidth(s) > width {
		cut := runewidth.Truncate(s, width, "")
		if sp := strings.LastIndexAny(cut, " ,"); sp > len(cut)/2 {
			cut = cut[:sp+1]
		}
		out = append(out, strings.TrimRight(cut, " "))
		s = strings.TrimLeft(s[len(cut):], " ")
	}
	return append(out, s)
}

func cells(fields []Field, row []any, loc *time.Location, labels bool) []string {
	out := make([]string, len(row))
	for i, v := range row {
		switch x := v.(type) {
		case string:
			out[i] = x
			if l := textLabels[fields[i].Key]; labels && l != nil && x != "" {
				out[i] = l(x)
			}
		case time.Time:
			out[i] = FormatTime(x, loc)
		case float64:
			out[i] = strconv.FormatFloat(x, 'f', -1, 64)
		case int:
			out[i] = strconv.Itoa(x)
		case bool:
			out[i] = BoolLabel(x)
		default:
			out[i] = fmt.Sprint(x)
		}
	}
	return out
}

// RowText is row r of t as the text output shows it (times in loc, codes
// labelled in Chinese, yes/no as 是/否): the meeting pack prints these, so its
// numbers are the CLI's.
func RowText(t Table, r int, loc *time.Location) []string {
	return cells(t.Fields, t.Rows[r], loc, true)
}
