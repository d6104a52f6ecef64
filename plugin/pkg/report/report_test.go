package report_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/testsupport"
	"github.com/minewatch/minewatch/plugin/pkg/report"
)

var bj = time.FixedZone("CST", 8*3600)

func sample() report.Report {
	t0 := time.Date(2026, 11, 4, 12, 10, 0, 0, time.UTC)
	return report.Report{
		CaseID: "7", Unit: "u-a", UnitName: "一中", IPs: []string{"10.1.0.2"},
		Device: "机房B-07", Person: "赵老师", DeviceKey: "mac:52:54:00:12:34:56", Source: "detected", State: "mining",
		Opened: t0, LocateDue: t0.Add(48 * time.Hour), ReportDue: t0.Add(72 * time.Hour), Located: t0.Add(20 * time.Hour),
		Class: "passive", Score: 70.456, FirstSeen: t0, LastSeen: t0.Add(30 * time.Hour),
		Reasons:   []report.Reason{{Label: "连接已登记矿池 contacted a listed mining pool", Points: 55}, {Label: "常见矿池端口 well-known pool port", Points: 10}},
		Timeline:  []report.Step{{At: t0.Add(20 * time.Hour), Stage: "located", Class: "passive", Note: "宿舍楼 <私接> 矿机\n第二行", Actor: "lead-a (Editor)"}},
		Fields:    report.Fields{Cause: "学生私自安装挖矿程序 & 木马", Measures: "断网、清除木马\n加强巡检", Reporter: "张老师", Phone: "010-12345678"},
		Generated: time.Date(2026, 11, 6, 2, 0, 0, 0, time.UTC), Location: bj,
	}
}

// docxText reads a DOCX back the way a word processor would start to:
// the package's content types, the main part named by the package
// relationship, parsed as XML; it returns the paragraphs' text and the
// number of tables.
func docxText(t *testing.T, b []byte) ([]string, int) {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string][]byte{}
	for _, f := range z.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		parts[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	for _, name := range []string{"[Content_Types].xml", "_rels/.rels", "word/_rels/document.xml.rels", "word/styles.xml"} {
		if err := xml.Unmarshal(parts[name], new(struct{})); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	var rels struct {
		Rel []struct {
			Type   string `xml:"Type,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	if err := xml.Unmarshal(parts["_rels/.rels"], &rels); err != nil || len(rels.Rel) != 1 || !strings.HasSuffix(rels.Rel[0].Type, "/officeDocument") {
		t.Fatalf("package relationships: %v %+v", err, rels)
	}
	main := parts[rels.Rel[0].Target]
	if !strings.Contains(string(parts["[Content_Types].xml"]), `PartName="/`+rels.Rel[0].Target+`" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"`) {
		t.Errorf("content types do not declare the main part: %s", parts["[Content_Types].xml"])
	}
	dec := xml.NewDecoder(bytes.NewReader(main))
	var paras []string
	var cur strings.Builder
	tables, inText := 0, false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("document.xml: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			switch x.Name.Local {
			case "t":
				inText = true
			case "br":
				cur.WriteString("\n")
			case "tbl":
				tables++
			}
		case xml.EndElement:
			switch x.Name.Local {
			case "t":
				inText = false
			case "p":
				paras = append(paras, cur.String())
				cur.Reset()
			}
		case xml.CharData:
			if inText {
				cur.Write(x)
			}
		}
	}
	return paras, tables
}

func TestDOCXReadsBack(t *testing.T) {
	var b bytes.Buffer
	if err := report.WriteDOCX(&b, sample()); err != nil {
		t.Fatal(err)
	}
	paras, tables := docxText(t, b.Bytes())
	text := strings.Join(paras, "|")
	for _, want := range []string{
		"关于一中 IP地址 10.1.0.2 挖矿行为的书面报告", "一、基本情况", "一中（u-a）", "机房B-07", "赵老师", "mac:52:54:00:12:34:56",
		"2026-11-06 20:10", // locate deadline 48 h after 4 Nov 12:10 UTC, Beijing time
		"挖矿中 mining", "被动(木马) passive", "最高评分 70.46 分", "· 连接已登记矿池 contacted a listed mining pool：+55 分",
		"宿舍楼 <私接> 矿机\n第二行", "lead-a (Editor)", "学生私自安装挖矿程序 & 木马", "断网、清除木马\n加强巡检",
		"填报人：张老师　　联系电话：010-12345678", "填报日期：2026年11月6日",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the document lacks %q:\n%s", want, strings.Join(paras, "\n"))
		}
	}
	if tables != 2 {
		t.Errorf("%d tables, want 2 (basic facts, timeline)", tables)
	}
	// blank fields are marked for the unit to fill in
	r := sample()
	r.Fields, r.Timeline, r.Person = report.Fields{}, nil, ""
	b.Reset()
	if err := report.WriteDOCX(&b, r); err != nil {
		t.Fatal(err)
	}
	paras, tables = docxText(t, b.Bytes())
	text = strings.Join(paras, "|")
	if strings.Count(text, "（请填写）") != 5 || !strings.Contains(text, "尚无处置记录") || tables != 1 { // person, cause, measures, reporter, phone
		t.Errorf("blank report: %d tables\n%s", tables, strings.Join(paras, "\n"))
	}
	if r.FileName("docx") != "书面报告-u-a-10.1.0.2-20261106.docx" {
		t.Errorf("file name %q", r.FileName("docx"))
	}
	// a word processor, where the machine has one, opens it
	if soffice, err := exec.LookPath("soffice"); err == nil {
		dir := t.TempDir()
		src := filepath.Join(dir, "r.docx")
		os.WriteFile(src, b.Bytes(), 0o600)
		if out, err := exec.Command(soffice, "--headless", "--convert-to", "txt:Text", "--outdir", dir, src).CombinedOutput(); err != nil {
			t.Errorf("LibreOffice: %v\n%s", err, out)
		} else if txt, _ := os.ReadFile(filepath.Join(dir, "r.txt")); !strings.Contains(string(txt), "书面报告") {
			t.Errorf("LibreOffice's text: %s", txt)
		}
	} else {
		t.Log("LibreOffice not installed: the DOCX is checked by reading its XML back only")
	}
}

func TestPDF(t *testing.T) {
	pdftotext := testsupport.Require(t, "pdftotext")
	t.Setenv("MINEWATCH_CHROMIUM", testsupport.Require(t, "chromium", "chromium-browser"))
	var b bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := report.WritePDF(ctx, &b, sample()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pdf := filepath.Join(dir, "r.pdf")
	os.WriteFile(pdf, b.Bytes(), 0o600)
	out, err := exec.Command(pdftotext, "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"书面报告", "一中", "10.1.0.2", "赵老师", "学生私自安装挖矿程序", "010-12345678"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the PDF's text lacks %q:\n%s", want, out)
		}
	}
}

// pythonDocx is a reader of DOCX that is not ours: Debian's python3-docx
// (.ci/deps.sh installs it), run by Debian's python3.
const pythonDocx = `
import docx, json, sys
d = docx.Document(sys.argv[1])
print(json.dumps({"paragraphs": [p.text for p in d.paragraphs],
                  "tables": [[[c.text for c in r.cells] for r in t.rows] for t in d.tables]}, ensure_ascii=False))
`

// TestDOCXOpensInPythonDocx: python-docx, an independent implementation of
// the format, opens the report and finds its paragraphs and table cells.
func TestDOCXOpensInPythonDocx(t *testing.T) {
	if _, err := os.Stat("/usr/lib/python3/dist-packages/docx/__init__.py"); err != nil {
		testsupport.Missing(t, "python3-docx not installed (a Debian package)")
	}
	var b bytes.Buffer
	if err := report.WriteDOCX(&b, sample()); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "r.docx")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/usr/bin/python3", "-c", pythonDocx, p).CombinedOutput()
	if err != nil {
		t.Fatalf("python-docx: %v\n%s", err, out)
	}
	var doc struct {
		Paragraphs []string
		Tables     [][][]string
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(doc.Paragraphs) == 0 || doc.Paragraphs[0] != "关于一中 IP地址 10.1.0.2 挖矿行为的书面报告" {
		t.Errorf("paragraphs: %q", doc.Paragraphs)
	}
	if len(doc.Tables) != 2 || len(doc.Tables[0]) != 14 || doc.Tables[0][3][0] != "责任人" || doc.Tables[0][3][1] != "赵老师" ||
		len(doc.Tables[1]) != 2 || doc.Tables[1][1][4] != "lead-a (Editor)" || doc.Tables[1][1][3] != "宿舍楼 <私接> 矿机\n第二行" {
		t.Errorf("tables: %q", doc.Tables)
	}
	if !strings.Contains(strings.Join(doc.Paragraphs, "\n"), "断网、清除木马\n加强巡检") {
		t.Errorf("measures missing: %q", doc.Paragraphs)
	}
}
