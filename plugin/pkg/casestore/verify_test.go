package casestore_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/casestore"
)

// testVerifyCached: the case page's VerifyCached starts from the head the
// last verification established, yet an old entry edited or deleted after
// that verification, a newest entry deleted (the head moved backwards) and
// a record edited are all still detected; new entries are verified as
// Verify does. It does not re-hash attachments' content each time: a
// same-length rewrite of a report's bytes is found by Verify, and by
// VerifyCached once FullVerifyEvery has passed.
func testVerifyCached(t *testing.T, newStore newStoreFunc) {
	setup := func(t *testing.T) (*casestore.Store, *sql.DB, string, func(time.Duration)) {
		s, dsn := newStore(t)
		clock := t0
		s.Now = func() time.Time { return clock }
		advance := func(d time.Duration) { clock = clock.Add(d) }
		d, err := s.Record(ctx, casestore.NewDisposition{IP: "10.1.0.1", Unit: "u-a", Stage: "located", Class: "active"}, lead) // entries 1, 2
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Record(ctx, casestore.NewDisposition{IP: "10.1.0.1", Unit: "u-a", Stage: "reported", Class: "active"}, lead); err != nil { // 3
			t.Fatal(err)
		}
		if _, err := s.AddAttachment(ctx, d.CaseID, "书面报告.docx", "application/octet-stream", []byte("PK书面报告"), lead); err != nil { // 4
			t.Fatal(err)
		}
		if v, err := s.VerifyCached(ctx); err != nil || v.Entries != 4 {
			t.Fatalf("first (full) verification: %+v %v", v, err)
		}
		// after the cached head: verified incrementally
		if _, err := s.Record(ctx, casestore.NewDisposition{IP: "10.1.0.2", Unit: "u-a", Stage: "located", Class: "passive"}, lead); err != nil { // 5, 6
			t.Fatal(err)
		}
		full, err := s.Verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := s.VerifyCached(ctx); err != nil || v != full || v.Entries != 6 {
			t.Fatalf("cached verification %+v %v, want %+v", v, err, full)
		}
		db, err := sql.Open(driver(dsn), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return s, db, dsn, advance
	}
	for _, c := range []struct{ name, sql, want string }{
		{"edit an old entry", `UPDATE audit SET payload = REPLACE(payload, 'lead-a', 'someone') WHERE seq = 2`, "entry 2 (disposition.record disposition/1) was edited"},
		{"delete an old entry", `DELETE FROM audit WHERE seq = 3`, "entry 4 found where 3 was expected"},
		{"delete the newest entry", `DELETE FROM audit WHERE seq = 6`, "disposition/3 has no audit entry"},
		{"edit an old record", `UPDATE dispositions SET class = 'false-positive' WHERE id = 1`, "disposition/1 was edited"},
		{"edit an old entry's time", `UPDATE audit SET at_ms = at_ms + 1 WHERE seq = 1`, "entry 1 (case.open case/1) was edited"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, db, _, _ := setup(t)
			if _, err := db.Exec(c.sql); err != nil {
				t.Fatal(err)
			}
			_, err := s.VerifyCached(ctx)
			if !errors.Is(err, casestore.ErrTampered) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("after %s: %v, want %q", c.name, err, c.want)
			}
			// and it stays detected: the cache is dropped
			if _, err := s.VerifyCached(ctx); !errors.Is(err, casestore.ErrTampered) {
				t.Errorf("second look after %s: %v", c.name, err)
			}
		})
	}
	t.Run("attachment bytes rewritten", func(t *testing.T) {
		s, db, dsn, advance := setup(t)
		q := `UPDATE attachments SET content = CAST(REPLACE(CAST(content AS TEXT), 'PK', 'QK') AS BLOB) WHERE id = 1`
		if casestore.IsPostgres(dsn) {
			q = `UPDATE attachments SET content = overlay(content placing '\x514b'::bytea from 1 for 2) WHERE id = 1`
		}
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
		// Within FullVerifyEvery of the last full verification the content
		// is not read again (the row and its length are unchanged)...
		if _, err := s.VerifyCached(ctx); err != nil {
			t.Errorf("cached verification re-read the report's content: %v", err)
		}
		// ...after it, it is.
		advance(casestore.FullVerifyEvery)
		if _, err := s.VerifyCached(ctx); !errors.Is(err, casestore.ErrTampered) || !strings.Contains(err.Error(), "attachment/1 was edited") {
			t.Errorf("cached verification after FullVerifyEvery: %v", err)
		}
		if _, err := s.Verify(ctx); !errors.Is(err, casestore.ErrTampered) || !strings.Contains(err.Error(), "attachment/1 was edited") {
			t.Errorf("full verification after the rewrite: %v", err)
		}
	})
}
