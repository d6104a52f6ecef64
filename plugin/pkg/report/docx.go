package report

import (
	"archive/zip"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
)

// ContentTypeDOCX is the media type of a DOCX file.
const ContentTypeDOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

// The package parts of a minimal WordprocessingML document: content types,
// the package relationship to the main part, the main part's relationship
// to its styles, and the styles (fonts for Chinese text: 宋体 / SimSun, which
// WPS and Word on Chinese Windows have).
const (
	contentTypesXML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/></Types>`
	relsXML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`
	documentRelsXML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`
	stylesXML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="Times New Roman" w:hAnsi="Times New Roman" w:eastAsia="宋体" w:cs="Times New Roman"/><w:sz w:val="24"/><w:szCs w:val="24"/><w:lang w:val="en-US" w:eastAsia="zh-CN"/></w:rPr></w:rPrDefault><w:pPrDefault><w:pPr><w:spacing w:after="120" w:line="360" w:lineRule="auto"/></w:pPr></w:pPrDefault></w:docDefaults><w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style></w:styles>`
	wNS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
)

// docWriter accumulates the main part's body.
type docWriter struct{ b strings.Builder }

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// run writes text as runs, a newline becoming a line break.
func (d *docWriter) run(text string, bold bool, size int) {
	for i, line := range strings.Split(text, "\n") {
		d.b.WriteString("<w:r>")
		if bold || size > 0 {
			d.b.WriteString("<w:rPr>")
			if bold {
				d.b.WriteString(`<w:b/>`)
			}
			if size > 0 {
				d.b.WriteString(`<w:sz w:val="` + strconv.Itoa(size) + `"/><w:szCs w:val="` + strconv.Itoa(size) + `"/>`)
			}
			d.b.WriteString("</w:rPr>")
		}
		if i > 0 {
			d.b.WriteString("<w:br/>")
		}
		d.b.WriteString(`<w:t xml:space="preserve">` + esc(line) + `</w:t></w:r>`)
	}
}

func (d *docWriter) para(text string, bold bool, size int, center bool) {
	d.b.WriteString("<w:p>")
	if center {
		d.b.WriteString(`<w:pPr><w:jc w:val="center"/></w:pPr>`)
	}
	d.run(text, bold, size)
	d.b.WriteString("</w:p>")
}

// table writes a bordered table over the page width, columns sized for
// the two tables the report has (others share the width evenly).
func (d *docWriter) table(rows [][]string, header bool) {
	if len(rows) == 0 {
		return
	}
	const width = 9000 // twentieths of a point: A4 less 2.5 cm margins
	n := len(rows[0])
	cols := make([]int, n)
	for i := range cols {
		cols[i] = width / n
	}
	switch n {
	case 2: // label, value
		cols = []int{2600, width - 2600}
	case 5: // the timeline: time, stage, class, note, who
		cols = []int{1900, 1100, 1700, 2600, 1700}
	}
	d.b.WriteString(`<w:tbl><w:tblPr><w:tblW w:w="` + strconv.Itoa(width) + `" w:type="dxa"/><w:tblBorders>`)
	for _, side := range []string{"top", "left", "bottom", "right", "insideH", "insideV"} {
		d.b.WriteString(`<w:` + side + ` w:val="single" w:sz="4" w:space="0" w:color="000000"/>`)
	}
	d.b.WriteString(`</w:tblBorders><w:tblLayout w:type="fixed"/></w:tblPr><w:tblGrid>`)
	for _, c := range cols {
		d.b.WriteString(`<w:gridCol w:w="` + strconv.Itoa(c) + `"/>`)
	}
	d.b.WriteString(`</w:tblGrid>`)
	for r, row := range rows {
		d.b.WriteString("<w:tr>")
		for i, cell := range row {
			d.b.WriteString(`<w:tc><w:tcPr><w:tcW w:w="` + strconv.Itoa(cols[i%n]) + `" w:type="dxa"/></w:tcPr><w:p>`)
			d.run(cell, (header && r == 0) || (n == 2 && i == 0), 0)
			d.b.WriteString("</w:p></w:tc>")
		}
		d.b.WriteString("</w:tr>")
	}
	d.b.WriteString("</w:tbl>")
}

// WriteDOCX writes the report as a DOCX file (A4).
func WriteDOCX(w io.Writer, r Report) error {
	var d docWriter
	d.b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<w:document xmlns:w="` + wNS + `"><w:body>`)
	d.para(r.Title(), true, 36, true)
	d.para("（IP清零专项行动 书面报告）", false, 0, true)
	for _, bl := range r.blocks() {
		if bl.heading != "" {
			d.para(bl.heading, true, 28, false)
		}
		for _, p := range bl.paras {
			d.para(p, false, 0, false)
		}
		if bl.table != nil {
			d.table(bl.table, bl.header)
			d.para("", false, 0, false) // Word needs a paragraph between a table and what follows
		}
	}
	d.para(footer, false, 18, false)
	d.b.WriteString(`<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1440" w:right="1418" w:bottom="1440" w:left="1418" w:header="720" w:footer="720" w:gutter="0"/></w:sectPr></w:body></w:document>`)

	z := zip.NewWriter(w)
	for _, part := range []struct{ name, body string }{
		{"[Content_Types].xml", contentTypesXML},
		{"_rels/.rels", relsXML},
		{"word/_rels/document.xml.rels", documentRelsXML},
		{"word/styles.xml", stylesXML},
		{"word/document.xml", d.b.String()},
	} {
		f, err := z.Create(part.name)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(f, part.body); err != nil {
			return err
		}
	}
	return z.Close()
}
