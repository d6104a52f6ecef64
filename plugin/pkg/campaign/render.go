package campaign

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"
)

// Render writes a table as "table" (aligned text, CJK-aware), "csv" or
// "json" (an array of objects keyed by the English column keys; times
// RFC 3339 in loc, null for none).
func Render(w io.Writer, t Table, format string, loc *time.Location) error {
	switch format {
	case "json":
		out := make([]map[string]any, 0, len(t.Rows))
		for _, row := range t.Rows {
			m := make(map[string]any, len(row))
			for i, c := range t.Columns {
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
		cw := csv.NewWriter(w)
		head := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			head[i] = c.Header
		}
		if err := cw.Write(head); err != nil {
			return err
		}
		for _, row := range t.Rows {
			if err := cw.Write(cells(row, loc)); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case "table", "":
		grid := [][]string{make([]string, len(t.Columns))}
		for i, c := range t.Columns {
			grid[0][i] = c.Header
		}
		for _, row := range t.Rows {
			grid = append(grid, cells(row, loc))
		}
		widths := make([]int, len(t.Columns))
		for _, r := range grid {
			for i, s := range r {
				widths[i] = max(widths[i], runewidth.StringWidth(s))
			}
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

func cells(row []any, loc *time.Location) []string {
	out := make([]string, len(row))
	for i, v := range row {
		switch x := v.(type) {
		case string:
			out[i] = x
		case time.Time:
			out[i] = FormatTime(x, loc)
		case float64:
			out[i] = strconv.FormatFloat(x, 'f', -1, 64)
		case int:
			out[i] = strconv.Itoa(x)
		case bool:
			if x {
				out[i] = "是 yes"
			} else {
				out[i] = "否 no"
			}
		default:
			out[i] = fmt.Sprint(x)
		}
	}
	return out
}
