// Package excelcsv is the one writer of minewatch's CSV output. Excel on
// Chinese Windows reads a CSV file without a byte order mark in the system's
// code page (GBK), so every Chinese header and value comes out garbled; with
// the UTF-8 BOM first it reads the file as UTF-8. Every command that writes
// CSV for people goes through NewWriter, so no output forgets the mark.
package excelcsv

import (
	"encoding/csv"
	"io"
)

// BOM is the UTF-8 byte order mark (U+FEFF) written before the first record.
const BOM = "\ufeff"

// Writer is a csv.Writer that writes the BOM before its first record (or at
// Flush when no record was written, so even an empty file says UTF-8).
type Writer struct {
	*csv.Writer
	bom *bomWriter
}

type bomWriter struct {
	w    io.Writer
	done bool
}

func (b *bomWriter) Write(p []byte) (int, error) {
	if !b.done {
		b.done = true
		if _, err := io.WriteString(b.w, BOM); err != nil {
			return 0, err
		}
	}
	return b.w.Write(p)
}

// NewWriter returns a CSV writer to w that starts with the UTF-8 BOM. Lines
// end in CRLF, as Excel writes them.
func NewWriter(w io.Writer) *Writer {
	b := &bomWriter{w: w}
	cw := csv.NewWriter(b)
	cw.UseCRLF = true
	return &Writer{Writer: cw, bom: b}
}

// Flush writes buffered records (and the BOM if nothing was written yet).
func (w *Writer) Flush() {
	w.Writer.Flush()
	if !w.bom.done && w.Writer.Error() == nil {
		_, _ = w.bom.Write(nil)
	}
}

// WriteAll writes the header and rows and flushes.
func WriteAll(out io.Writer, header []string, rows [][]string) error {
	w := NewWriter(out)
	if header != nil {
		if err := w.Write(header); err != nil {
			return err
		}
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}
