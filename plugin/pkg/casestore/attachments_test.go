package casestore_test

import (
	"bytes"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/casestore"
)

// testAttachments: a report is stored with its case and author, listed with
// its SHA-256, read back byte for byte; dispositions for a named case are
// checked against it; an edited file, an edited row and a deleted row are
// each detected by Verify.
func testAttachments(t *testing.T, newStore newStoreFunc) {
	s, dsn := newStore(t)
	d, err := s.Record(ctx, casestore.NewDisposition{IP: "10.1.0.1", Unit: "u-a", Stage: "located", Class: "active"}, lead)
	if err != nil {
		t.Fatal(err)
	}
	doc := append([]byte("PK\x03\x04"), bytes.Repeat([]byte("书面报告"), 100)...)
	a, err := s.AddAttachment(ctx, d.CaseID, "书面报告-10.1.0.1.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", doc, lead)
	if err != nil || a.SHA256 != casestore.SHA256Hex(doc) || a.Size != int64(len(doc)) || a.Author != "lead-a" || a.AuthorRole != "Editor" {
		t.Fatalf("add attachment: %v %+v", err, a)
	}
	list, err := s.Attachments(ctx, d.CaseID)
	if err != nil || len(list) != 1 || list[0] != a {
		t.Errorf("attachments: %v %+v, want [%+v]", err, list, a)
	}
	got, content, err := s.AttachmentContent(ctx, d.CaseID, a.ID)
	if err != nil || got != a || !bytes.Equal(content, doc) {
		t.Errorf("attachment content: %v %+v (%d bytes)", err, got, len(content))
	}
	if _, _, err := s.AttachmentContent(ctx, d.CaseID+1, a.ID); !errors.Is(err, casestore.ErrNotFound) {
		t.Errorf("attachment through another case: %v", err)
	}
	if _, err := s.AddAttachment(ctx, 999, "x.docx", "application/octet-stream", doc, lead); !errors.Is(err, casestore.ErrNotFound) {
		t.Errorf("attachment of a missing case: %v", err)
	}
	for name, bad := range map[string]struct{ name, ctype string }{
		"path in the name": {"../x.docx", "application/octet-stream"}, "blank name": {" ", "text/plain"}, "bad type": {"x", "not a type"},
	} {
		if _, err := s.AddAttachment(ctx, d.CaseID, bad.name, bad.ctype, doc, lead); !errors.Is(err, casestore.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	n, err := s.CaseEntries(ctx, d.CaseID)
	if err != nil || n != 3 { // case.open, disposition.record, attachment.add
		t.Errorf("case entries: %d %v", n, err)
	}

	// dispositions for a named case
	nd := casestore.NewDisposition{IP: "10.1.0.1", Unit: "u-a", Stage: "reported", Class: "active", CaseID: d.CaseID}
	if r, err := s.Record(ctx, nd, lead); err != nil || r.CaseID != d.CaseID {
		t.Errorf("disposition for case %d: %v %+v", d.CaseID, err, r)
	}
	other := nd
	other.Unit = "u-b"
	if _, err := s.Record(ctx, other, lead); !errors.Is(err, casestore.ErrInvalid) {
		t.Errorf("disposition naming another unit's case: %v", err)
	}
	other = nd
	other.IP = "10.1.0.9"
	if _, err := s.Record(ctx, other, lead); !errors.Is(err, casestore.ErrInvalid) {
		t.Errorf("disposition for an IP the case does not hold: %v", err)
	}
	other = nd
	other.CaseID = 999
	if _, err := s.Record(ctx, other, lead); !errors.Is(err, casestore.ErrNotFound) {
		t.Errorf("disposition for a missing case: %v", err)
	}
	nd.Stage = "closed"
	if _, err := s.Record(ctx, nd, lead); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record(ctx, nd, lead); !errors.Is(err, casestore.ErrClosed) {
		t.Errorf("disposition for a closed case: %v", err)
	}
	c, err := s.Case(ctx, scope("u-a"), d.CaseID)
	if err != nil || c.Closed.IsZero() || strings.Join(c.IPs, ",") != "10.1.0.1" {
		t.Errorf("case: %v %+v", err, c)
	}
	if _, err := s.Case(ctx, scope("u-b"), d.CaseID); !errors.Is(err, casestore.ErrNotFound) {
		t.Errorf("case of another unit's scope: %v", err)
	}
	tl, err := s.CaseDispositions(ctx, d.CaseID)
	if err != nil || len(tl) != 3 || tl[0].Stage != "located" || tl[2].Stage != "closed" || tl[1].Via != casestore.ViaGrafana || tl[1].Author != "lead-a" {
		t.Errorf("timeline: %v %+v", err, tl)
	}
	// OpenCaseOf: the case is closed, so a report for the IP opens a new case
	nc, err := s.OpenCaseOf(ctx, "u-a", "10.1.0.1", "", time.Time{}, lead)
	if err != nil || nc.ID == d.CaseID || nc.Source != casestore.SourceDetected {
		t.Errorf("open case of a closed IP: %v %+v", err, nc)
	}
	if again, err := s.OpenCaseOf(ctx, "u-a", "10.1.0.1", "", time.Time{}, lead); err != nil || again.ID != nc.ID {
		t.Errorf("open case again: %v %+v, want case %d", err, again, nc.ID)
	}
	if _, err := s.Verify(ctx); err != nil {
		t.Fatalf("before tampering: %v", err)
	}

	for _, c := range []struct{ name, sql, want string }{
		{"edit the file", `UPDATE attachments SET content = $1 WHERE id = 1`, "attachment/1 was edited"},
		{"edit the file and its row", `UPDATE attachments SET content = $1, sha256 = '` + casestore.SHA256Hex([]byte("forged")) + `', size = 6 WHERE id = 1`, "attachment/1 was edited"},
		{"rename the author", `UPDATE attachments SET author = 'someone' WHERE id = 1 AND $1 = $1`, "attachment/1 was edited"},
		{"delete it", `DELETE FROM attachments WHERE id = 1 AND $1 = $1`, "attachment/1 is in the audit trail but was deleted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, err := sql.Open(driver(dsn), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			arg := any([]byte("forged"))
			if strings.Contains(c.sql, "author") || strings.HasPrefix(c.sql, "DELETE") {
				arg = "x"
			}
			if _, err := tx.Exec(c.sql, arg); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			_, err = s.Verify(ctx)
			if !errors.Is(err, casestore.ErrTampered) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("after %s: %v, want %q", c.name, err, c.want)
			}
			// put it back for the next case (the deletion comes last)
			if _, err := db.Exec(`UPDATE attachments SET content = $1, sha256 = $2, size = $3, author = $4 WHERE id = $5`,
				doc, a.SHA256, a.Size, a.Author, a.ID); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(c.sql, "DELETE") {
				return
			}
			if _, err := s.Verify(ctx); err != nil {
				t.Fatalf("restored: %v", err)
			}
		})
	}
}
