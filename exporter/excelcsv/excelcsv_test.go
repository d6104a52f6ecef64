package excelcsv

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

// TestBOMThenRecords: the file starts with the UTF-8 BOM exactly once, and
// what follows reads back as the records written (Chinese intact).
func TestBOMThenRecords(t *testing.T) {
	var b bytes.Buffer
	if err := WriteAll(&b, []string{"单位 unit", "新增 new"}, [][]string{{"一中", "2"}, {"合计", "3"}}); err != nil {
		t.Fatal(err)
	}
	out := b.Bytes()
	if !bytes.HasPrefix(out, []byte{0xEF, 0xBB, 0xBF}) {
		t.Fatalf("no BOM: % x", out[:min(8, len(out))])
	}
	if bytes.Count(out, []byte(BOM)) != 1 {
		t.Fatalf("BOM written %d times", bytes.Count(out, []byte(BOM)))
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(b.String(), BOM))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0][0] != "单位 unit" || recs[2][0] != "合计" || recs[2][1] != "3" {
		t.Fatalf("read back %q", recs)
	}
	var empty bytes.Buffer
	w := NewWriter(&empty)
	w.Flush()
	if empty.String() != BOM {
		t.Fatalf("an empty file is %q, want just the BOM", empty.String())
	}
}
