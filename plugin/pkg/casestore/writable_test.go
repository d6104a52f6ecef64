package casestore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore/pgtest"
)

// TestCheckWritable: a store that takes writes passes and keeps no trace of
// the check; the same database reached read-only still answers reads but
// fails the check (what the health check reports as 案件库只读).
func TestCheckWritable(t *testing.T) {
	ctx := context.Background()
	check := func(t *testing.T, dsn string, readOnly func(dsn string) (*sql.DB, error), postgres bool) {
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.CheckWritable(ctx); err != nil {
			t.Fatalf("writable store: %v", err)
		}
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = 0`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("the check left %d rows behind (%v)", n, err)
		}
		db, err := readOnly(dsn)
		if err != nil {
			t.Fatal(err)
		}
		ro := &Store{db: db, postgres: postgres, where: s.where, Now: time.Now}
		defer ro.Close()
		if _, err := ro.Case(ctx, campaign.Scope{All: true}, 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("read through the read-only handle: %v, want not found", err)
		}
		if err := ro.CheckWritable(ctx); err == nil {
			t.Fatal("a read-only store passed the write check")
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		// mode=ro holds even for root, who ignores file permissions (CI runs as root)
		check(t, filepath.Join(t.TempDir(), "cases.db"), func(dsn string) (*sql.DB, error) {
			return sql.Open("sqlite", "file:"+dsn+"?mode=ro&_pragma=busy_timeout(10000)")
		}, false)
	})
	t.Run("postgres", func(t *testing.T) {
		// the setting a hot standby or a read-only role imposes
		check(t, pgtest.Start(t), func(dsn string) (*sql.DB, error) {
			return sql.Open("pgx", dsn+"&default_transaction_read_only=on")
		}, true)
	})
}
