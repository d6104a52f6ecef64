package pack

import (
	"fmt"
	"io"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
)

// WriteXLSX writes the pack as a workbook: one sheet per section, headers
// frozen, numbers as numbers, and a line chart of the trend.
func WriteXLSX(w io.Writer, p Pack) error { return WriteSheets(w, p.Sections(), p.loc()) }

// WriteSheets writes sections as a workbook, a sheet each (every column of
// each table; times in loc). A section whose table starts with a week
// column (the trend) gets a line chart.
func WriteSheets(w io.Writer, sections []Section, loc *time.Location) error {
	f := excelize.NewFile()
	defer f.Close()
	head, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Color: []string{"DDEBF7"}, Pattern: 1}})
	if err != nil {
		return err
	}
	for i, s := range sections {
		name := s.Sheet
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				return err
			}
		} else if _, err := f.NewSheet(name); err != nil {
			return err
		}
		fields, _ := project(s.Table, nil)
		header := make([]any, len(fields))
		for j, fl := range fields {
			header[j] = fl.Header
		}
		if err := f.SetSheetRow(name, "A1", &header); err != nil {
			return err
		}
		last, _ := excelize.CoordinatesToCellName(len(fields), 1)
		if err := f.SetCellStyle(name, "A1", last, head); err != nil {
			return err
		}
		for r := range s.Table.Rows {
			text := campaign.RowText(s.Table, r, loc)
			vals := make([]any, len(fields))
			for j, fl := range fields {
				vals[j] = cellValue(fl, s.Table.Rows[r][j], text[j])
			}
			cell, _ := excelize.CoordinatesToCellName(1, r+2)
			if err := f.SetSheetRow(name, cell, &vals); err != nil {
				return err
			}
		}
		lastCol, _ := excelize.ColumnNumberToName(len(fields))
		if err := f.SetColWidth(name, "A", lastCol, 16); err != nil {
			return err
		}
		if err := f.SetPanes(name, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
			return err
		}
		if s.Table.Fields[0].Key == "week" && len(s.Table.Rows) > 0 { // the trend
			if err := trendChart(f, name, s.Table); err != nil {
				return err
			}
		}
	}
	f.SetActiveSheet(0)
	_, err = f.WriteTo(w)
	return err
}

// cellValue keeps numbers numeric (Excel sums them) and writes everything
// else as the text output shows it.
func cellValue(f campaign.Field, v any, text string) any {
	switch x := v.(type) {
	case int:
		return x
	case float64:
		return x
	case time.Time:
		return text
	}
	return text
}

// trendChart draws distinct IPs, new and mining at week end per week.
func trendChart(f *excelize.File, sheet string, t campaign.Table) error {
	n := len(t.Rows) + 1
	ref := func(col string) string { return fmt.Sprintf("'%s'!$%s$2:$%s$%d", sheet, col, col, n) }
	var series []excelize.ChartSeries
	for _, key := range []string{"distinct_ips", "distinct_devices", "new", "mining_at_end"} {
		i, ok := t.Index(key)
		if !ok {
			continue
		}
		col, _ := excelize.ColumnNumberToName(i + 1)
		series = append(series, excelize.ChartSeries{
			Name:       fmt.Sprintf("'%s'!$%s$1", sheet, col),
			Categories: ref("A"),
			Values:     ref(col),
		})
	}
	at, _ := excelize.CoordinatesToCellName(len(t.Fields)+2, 2) // right of the table, a column apart
	return f.AddChart(sheet, at, &excelize.Chart{
		Type:   excelize.Line,
		Series: series,
		Title:  excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "趋势 trend"}}},
		Legend: excelize.ChartLegend{Position: "bottom"},
	})
}
