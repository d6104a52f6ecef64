// Package casestore holds the campaign's case records — cases, their
// dispositions with the person who recorded each, and a hash-chained audit
// trail — in a real database: SQLite embedded (modernc.org/sqlite, pure Go)
// by default, PostgreSQL (pgx) when several Grafana instances share it.
//
// Case records are not time series: they are written by people, carry an
// author and must survive a crash the moment they are acknowledged, so they
// live here and not in VictoriaMetrics. Every write is one transaction that
// also appends an audit entry; nothing is acknowledged before the commit is
// durable (SQLite in WAL with synchronous=FULL; PostgreSQL with
// synchronous_commit on for the transaction). Every value reaches SQL as a
// parameter, after validation (IP by net/netip, unit by the ledger's unit-id
// rule, bounded free text).
package casestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"
)

// Store is an open case store.
type Store struct {
	db       *sql.DB
	postgres bool
	where    string // path or postgres URL without password, for messages
	// Now is the clock of record times (tests fix it).
	Now func() time.Time
	// Tracer, when set, traces the IP of each detected or manual case the
	// store opens (its MAC, account and device at the detection time;
	// hosttrace.go).
	Tracer HostTracer

	verified verifyCache // what the last verification established (VerifyCached)
}

// IsPostgres reports whether dsn names a PostgreSQL database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens (creating if needed) the store named by dsn: a postgres:// or
// postgresql:// URL, else the path of a SQLite file. It applies pending
// migrations before returning.
func Open(ctx context.Context, dsn string) (*Store, error) {
	dsn = strings.TrimSpace(dsn)
	if dsn == "" {
		return nil, errors.New("case store: no path or postgres:// URL given")
	}
	s := &Store{Now: time.Now, where: dsn}
	var err error
	if IsPostgres(dsn) {
		s.postgres = true
		s.where = redact(dsn)
		s.db, err = sql.Open("pgx", dsn)
	} else {
		s.db, err = openSQLite(dsn)
	}
	if err != nil {
		return nil, fmt.Errorf("case store %s: %w", s.where, err)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("case store %s: %w", s.where, err)
	}
	if !s.postgres {
		if err := s.checkSQLiteDurable(ctx); err != nil {
			s.db.Close()
			return nil, err
		}
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("case store %s: migrate: %w", s.where, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// String names the store for messages (a postgres password is never shown).
func (s *Store) String() string { return s.where }

func redact(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return dsn
	}
	cred := dsn[scheme+3 : at]
	if i := strings.Index(cred, ":"); i >= 0 {
		cred = cred[:i] + ":***"
	}
	return dsn[:scheme+3] + cred + dsn[at:]
}

// openSQLite opens a SQLite file in WAL mode with synchronous=FULL (a commit
// returns after the WAL is fsynced), a busy timeout so that the CLI and
// Grafana can write the same file, foreign keys on, and write transactions
// that take the lock at BEGIN (so two writers never fork the audit chain).
// The file is created 0600: it holds names of people.
func openSQLite(path string) (*sql.DB, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("SQLite path %q: '?' and '#' are not allowed in the path", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	return sql.Open("sqlite", "file:"+path+
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate")
}

func (s *Store) checkSQLiteDurable(ctx context.Context) error {
	var mode string
	var syncLevel int
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("case store %s: %w", s.where, err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncLevel); err != nil {
		return fmt.Errorf("case store %s: %w", s.where, err)
	}
	if mode != "wal" || syncLevel < 2 {
		return fmt.Errorf("case store %s: journal_mode=%s synchronous=%d, want wal and FULL (2): writes would not be durable when acknowledged", s.where, mode, syncLevel)
	}
	return nil
}

// migration is one versioned schema step. The two dialects differ only in
// how an auto-numbered key and a byte column are declared.
type migration struct {
	version int
	stmts   []string
}

const (
	idColumn   = "{{id}}"
	blobColumn = "{{blob}}"
)

var migrations = []migration{
	{1, []string{
		`CREATE TABLE cases (
			id ` + idColumn + `,
			unit TEXT NOT NULL,
			device TEXT NOT NULL DEFAULT '',
			person TEXT NOT NULL DEFAULT '',
			source TEXT NOT NULL CHECK (source IN ('detected', 'notice', 'manual')),
			locate_deadline_ms BIGINT,
			report_deadline_ms BIGINT,
			created_ms BIGINT NOT NULL,
			created_by TEXT NOT NULL
		)`,
		`CREATE INDEX cases_unit ON cases (unit)`,
		`CREATE TABLE case_ips (
			case_id BIGINT NOT NULL REFERENCES cases (id),
			ip TEXT NOT NULL,
			PRIMARY KEY (case_id, ip)
		)`,
		`CREATE INDEX case_ips_ip ON case_ips (ip)`,
		`CREATE TABLE dispositions (
			id ` + idColumn + `,
			case_id BIGINT NOT NULL REFERENCES cases (id),
			ip TEXT NOT NULL,
			stage TEXT NOT NULL CHECK (stage IN ('located', 'reported', 'closed')),
			class TEXT NOT NULL CHECK (class IN ('active', 'passive', 'research', 'false-positive')),
			note TEXT NOT NULL DEFAULT '',
			author TEXT NOT NULL,
			author_role TEXT NOT NULL,
			via TEXT NOT NULL,
			at_ms BIGINT NOT NULL
		)`,
		`CREATE INDEX dispositions_at ON dispositions (at_ms)`,
		`CREATE TABLE audit (
			seq BIGINT PRIMARY KEY,
			at_ms BIGINT NOT NULL,
			actor TEXT NOT NULL,
			action TEXT NOT NULL,
			entity TEXT NOT NULL,
			payload TEXT NOT NULL,
			prev_hash TEXT NOT NULL,
			hash TEXT NOT NULL
		)`,
	}},
	// 2: upstream notices (notices.go) and the device a case follows across
	// IP changes (cases.device_key: mac:…, account:… or ip:…).
	{2, []string{
		`ALTER TABLE cases ADD COLUMN device_key TEXT NOT NULL DEFAULT ''`,
		`CREATE INDEX cases_device_key ON cases (unit, device_key)`,
		`CREATE TABLE notices (
			id ` + idColumn + `,
			case_id BIGINT NOT NULL REFERENCES cases (id),
			number TEXT NOT NULL DEFAULT '',
			egress_ip TEXT NOT NULL,
			window_start_ms BIGINT NOT NULL,
			window_end_ms BIGINT NOT NULL,
			notified_ms BIGINT NOT NULL,
			remote TEXT NOT NULL DEFAULT '',
			trace TEXT NOT NULL,
			imported_ms BIGINT NOT NULL,
			imported_by TEXT NOT NULL
		)`,
		`CREATE INDEX notices_case ON notices (case_id)`,
	}},
	// 3: attachments of a case (the written report, attachments.go).
	{3, []string{
		`CREATE TABLE attachments (
			id ` + idColumn + `,
			case_id BIGINT NOT NULL REFERENCES cases (id),
			name TEXT NOT NULL,
			content_type TEXT NOT NULL,
			size BIGINT NOT NULL,
			sha256 TEXT NOT NULL,
			content ` + blobColumn + ` NOT NULL,
			author TEXT NOT NULL,
			author_role TEXT NOT NULL,
			via TEXT NOT NULL,
			at_ms BIGINT NOT NULL
		)`,
		`CREATE INDEX attachments_case ON attachments (case_id)`,
	}},
	// 4: host traces of detected cases (hosttrace.go): MAC, account and
	// device found for a detected IP at its detection time.
	{4, []string{
		`CREATE TABLE case_traces (
			id ` + idColumn + `,
			case_id BIGINT NOT NULL REFERENCES cases (id),
			ip TEXT NOT NULL,
			at_ms BIGINT NOT NULL,
			trace TEXT NOT NULL,
			traced_ms BIGINT NOT NULL,
			traced_by TEXT NOT NULL
		)`,
		`CREATE INDEX case_traces_case ON case_traces (case_id)`,
	}},
}

func (s *Store) ddl(stmt string) string {
	if s.postgres {
		return strings.NewReplacer(idColumn, "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", blobColumn, "BYTEA").Replace(stmt)
	}
	return strings.NewReplacer(idColumn, "INTEGER PRIMARY KEY AUTOINCREMENT", blobColumn, "BLOB").Replace(stmt)
}

// migrate applies the migrations not yet recorded in schema_migrations, each
// in its own transaction. On PostgreSQL an advisory lock keeps two Grafana
// instances starting together from migrating at once.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)`); err != nil {
		return err
	}
	for _, m := range migrations {
		if err := s.inTx(ctx, func(tx *sql.Tx) error {
			if s.postgres {
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, st := range m.stmts {
				if _, err := tx.ExecContext(ctx, s.ddl(st)); err != nil {
					return fmt.Errorf("version %d: %w", m.version, err)
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, $2)`, m.version, s.Now().UnixMilli())
			return err
		}); err != nil {
			return err
		}
	}
	var newest int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return err
	}
	if want := migrations[len(migrations)-1].version; newest > want {
		return fmt.Errorf("schema version %d is newer than this program knows (%d): upgrade minewatch", newest, want)
	}
	return nil
}

// CheckWritable proves the store takes writes: it inserts a row no real
// migration uses (version 0) into schema_migrations and rolls it back, so
// nothing is left behind and the audit chain is not touched. A read-only
// PostgreSQL role or standby, or a SQLite file opened read-only, fails here
// while a read still succeeds: the health check then says that dispositions
// and reports cannot be recorded.
func (s *Store) CheckWritable(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // rolled back on purpose: nothing may stay
	_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_ms) VALUES (0, $1)`, s.Now().UnixMilli())
	return err
}

// Advisory lock keys (PostgreSQL): one for migrations, one for the audit chain.
const (
	migrateLock = 7_230_001
	auditLock   = 7_230_002
)

// inTx runs fn in a transaction and commits it; the commit returning is the
// point where a write is durable and may be acknowledged.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if s.postgres {
		// Whatever the server's default, this transaction's commit waits for its WAL flush.
		if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit TO on`); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
