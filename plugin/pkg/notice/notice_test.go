package notice

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/minewatch/minewatch/exporter/names"
)

func bj(y int, mo time.Month, d, h, mi int) time.Time {
	return time.Date(y, mo, d, h, mi, 0, 0, names.Location())
}

func TestUTF8WithBOM(t *testing.T) {
	ns, err := ReadFile("testdata/notices-utf8-bom.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 {
		t.Fatalf("%d notices (the blank row is no notice): %+v", len(ns), ns)
	}
	a, b := ns[0], ns[1]
	if a.Row != 2 || a.Number != "豫网通〔2026〕31号" || a.EgressIP.String() != "203.0.113.20" || !a.Start.Equal(bj(2026, 11, 5, 9, 0)) ||
		!a.End.Equal(bj(2026, 11, 5, 17, 30)) || !a.Notified.Equal(bj(2026, 11, 6, 10, 0)) || a.RemoteString() != "192.0.2.10:3333" || a.Note != "疑似门罗币矿池" {
		t.Errorf("row 2: %+v", a)
	}
	if len(a.Extra) != 1 || a.Extra[0] != (Field{"单位名称", "郑东新区第一中学"}) {
		t.Errorf("the unnamed column is not kept: %+v", a.Extra)
	}
	// one moment, remote as IP:port, no notice time: deadlines count from the moment
	if b.Row != 4 || !b.Start.Equal(bj(2026, 11, 5, 22, 15)) || !b.End.Equal(b.Start) || !b.Notified.Equal(b.Start) || b.RemoteString() != "192.0.2.11:14444" {
		t.Errorf("row 4: %+v", b)
	}
}

func TestGBK(t *testing.T) {
	raw, err := os.ReadFile("testdata/notices-gbk.csv")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "通报") {
		t.Fatal("the sample is not GBK")
	}
	ns, err := ReadFile("testdata/notices-gbk.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || ns[0].Number != "豫教通〔2026〕5号" || !ns[0].Start.Equal(bj(2026, 11, 7, 8, 30)) || ns[0].Remote.IsValid() || ns[0].Note != "校园网出口" {
		t.Errorf("GBK notice: %+v", ns)
	}
}

func TestEnglishHeaders(t *testing.T) {
	ns, err := ReadFile("testdata/notices-en.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || ns[0].Number != "CNCERT-HA-2026-0042" || !ns[0].Start.Equal(time.Date(2026, 11, 8, 3, 0, 0, 0, time.UTC)) ||
		ns[0].RemoteString() != "2001:db8::7" || ns[0].Note != "donation host" {
		t.Errorf("notice: %+v", ns)
	}
}

// An XLSX as Excel saves it: date cells are serial numbers shown in a date
// format; a number cell holds the port.
func TestXLSX(t *testing.T) {
	f := excelize.NewFile()
	sh := f.GetSheetName(0)
	for i, v := range []any{"通报编号", "IP", "开始时间", "结束时间", "目的IP", "端口"} {
		cell, _ := excelize.CoordinatesToCellName(i+1, 1)
		f.SetCellValue(sh, cell, v)
	}
	style, err := f.NewStyle(&excelize.Style{NumFmt: 22}) // m/d/yy h:mm
	if err != nil {
		t.Fatal(err)
	}
	f.SetCellValue(sh, "A2", "豫网通〔2026〕40号")
	f.SetCellValue(sh, "B2", "203.0.113.20")
	f.SetCellValue(sh, "C2", 46331.375) // 2026-11-05 09:00
	f.SetCellValue(sh, "D2", 46331.5)   // 2026-11-05 12:00
	f.SetCellStyle(sh, "C2", "D2", style)
	f.SetCellValue(sh, "E2", "192.0.2.10")
	f.SetCellValue(sh, "F2", 3333)
	path := filepath.Join(t.TempDir(), "通报.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	ns, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || !ns[0].Start.Equal(bj(2026, 11, 5, 9, 0)) || !ns[0].End.Equal(bj(2026, 11, 5, 12, 0)) || ns[0].RemoteString() != "192.0.2.10:3333" {
		t.Errorf("XLSX notice: %+v", ns)
	}
}

func TestBadNotices(t *testing.T) {
	for _, c := range []struct {
		name, csv string
		wants     []string
	}{
		{"no IP column", "编号,时间\n1,2026-11-05 09:00\n", []string{"第1行 row 1: no IP column"}},
		{"no time column", "编号,IP\n1,203.0.113.1\n", []string{"no time column"}},
		{"two IP columns", "IP,出口IP,时间\n", []string{`第1行 row 1, 列 column “出口IP”: names the same column (IP) as “IP”`}},
		{"bad cells", "通报编号,IP,开始时间,结束时间,目的IP,端口\n" +
			"1,203.0.113.300,2026-11-05 09:00,,,\n" +
			"2,203.0.113.1,昨天,,,\n" +
			"3,203.0.113.1,2026-11-05 09:00,2026-11-05 08:00,,\n" +
			"4,203.0.113.1,2026-11-05 09:00,,,3333\n" +
			"5,203.0.113.1,2026-11-05 09:00,,pool.example.org,\n" +
			"6,,2026-11-05 09:00,,,\n" +
			"7,203.0.113.1,2026-11-05 09:00,,192.0.2.1:3333,4444\n" +
			"8,203.0.113.1,2026-11-05 09:00,,,,多出来的\n", []string{
			`第2行 row 2, 列 column “IP”: "203.0.113.300" is not an IP address`,
			`第3行 row 3, 列 column “开始时间”: "昨天" is not a time`,
			`第4行 row 4, 列 column “结束时间”: end 2026-11-05 08:00:00 is before start 2026-11-05 09:00:00`,
			`第5行 row 5, 列 column “端口”: a port without a remote IP cannot be traced`,
			`第6行 row 6, 列 column “目的IP”: "pool.example.org" is not an IP address or IP:port`,
			`第7行 row 7, 列 column “IP”: empty`,
			`第8行 row 8, 列 column “端口”: port 4444 disagrees with the remote 192.0.2.1:3333`,
			`第9行 row 9: has 7 cells but the header only 6`,
		}},
		{"header only", "IP,时间\n", []string{"no notices"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ns, err := ReadCSV([]byte(c.csv))
			if err == nil {
				t.Fatalf("accepted: %+v", ns)
			}
			if ns != nil {
				t.Errorf("a bad file returned notices: %+v", ns)
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
