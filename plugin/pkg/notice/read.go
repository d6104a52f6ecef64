package notice

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// ReadFile reads a notice file: .xlsx by excelize, anything else as CSV.
func ReadFile(path string) ([]Notice, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ns []Notice
	if strings.EqualFold(filepath.Ext(path), ".xlsx") || bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		ns, err = ReadXLSX(data)
	} else {
		ns, err = ReadCSV(data)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ns, nil
}

// DecodeText turns a spreadsheet's text export into UTF-8: a UTF-8 BOM is
// dropped, valid UTF-8 is kept, anything else is read as GB18030 (the
// superset of GBK that Chinese Windows Excel writes for "CSV").
func DecodeText(data []byte) (string, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if utf8.Valid(data) {
		return string(data), nil
	}
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
	if err != nil {
		return "", fmt.Errorf("neither UTF-8 nor GBK text: %w", err)
	}
	return string(out), nil
}

// ReadCSV reads a CSV notice file (comma-separated, or tab-separated when
// the header has tabs and no commas, as some exports do).
func ReadCSV(data []byte) ([]Notice, error) {
	text, err := DecodeText(data)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(strings.NewReader(text))
	first, _, _ := strings.Cut(text, "\n")
	if strings.Contains(first, "\t") && !strings.Contains(first, ",") {
		r.Comma = '\t'
	}
	r.FieldsPerRecord = -1 // short rows are fine (trailing empty cells); long ones are reported by FromRows
	r.LazyQuotes = true
	rows, err := r.ReadAll()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("第%d行 row %d: CSV: %v", pe.StartLine, pe.StartLine, pe.Err)
		}
		return nil, err
	}
	return FromRows(rows, false)
}

// ReadXLSX reads the first sheet of an XLSX notice file. Cells are read raw
// so that a date cell comes as its serial number whatever its display format.
func ReadXLSX(data []byte) ([]Notice, error) {
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a readable XLSX workbook: %w", err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, errors.New("the workbook has no sheet")
	}
	rows, err := f.GetRows(sheets[0], excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, fmt.Errorf("sheet %q: %w", sheets[0], err)
	}
	ns, err := FromRows(rows, true)
	if err != nil {
		return nil, fmt.Errorf("sheet %q: %w", sheets[0], err)
	}
	return ns, nil
}
