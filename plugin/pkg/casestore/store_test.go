package casestore_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
	"github.com/minewatch/minewatch/plugin/pkg/casestore/pgtest"
)

var (
	lead  = casestore.Author{Login: "lead-a", Role: "Editor", Via: casestore.ViaGrafana}
	ops   = casestore.Author{Login: "root", Role: "operator", Via: casestore.ViaCLI}
	ctx   = context.Background()
	t0    = time.Date(2026, 11, 5, 9, 0, 0, 0, time.UTC)
	scope = func(units ...string) campaign.Scope { return campaign.Scope{Units: units} }
)

type newStoreFunc func(t *testing.T) (*casestore.Store, string)

func sqliteStore(t *testing.T) (*casestore.Store, string) {
	dsn := filepath.Join(t.TempDir(), "cases.db")
	return open(t, dsn), dsn
}

// postgresStores gives a fresh database per call on one PostgreSQL server.
func postgresStores(pgURL string) newStoreFunc {
	return func(t *testing.T) (*casestore.Store, string) {
		db, err := sql.Open("pgx", pgURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		name := fmt.Sprintf("t%d", time.Now().UnixNano())
		if _, err := db.Exec("CREATE DATABASE " + name); err != nil { // the name is ours, not input
			t.Fatal(err)
		}
		dsn := strings.Replace(pgURL, "/postgres?", "/"+name+"?", 1)
		return open(t, dsn), dsn
	}
}

func open(t *testing.T, dsn string) *casestore.Store {
	t.Helper()
	s, err := casestore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	clock := t0
	var mu sync.Mutex
	s.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); clock = clock.Add(time.Minute); return clock }
	return s
}

func TestStore(t *testing.T) {
	suite := func(t *testing.T, newStore newStoreFunc) {
		t.Run("record and read", func(t *testing.T) { testRecord(t, newStore) })
		t.Run("refuses bad input", func(t *testing.T) { testInvalid(t, newStore) })
		t.Run("tamper detected", func(t *testing.T) { testTamper(t, newStore) })
		t.Run("concurrent writers", func(t *testing.T) { testConcurrent(t, newStore) })
		t.Run("notices follow the device", func(t *testing.T) { testNotices(t, newStore) })
		t.Run("attachments", func(t *testing.T) { testAttachments(t, newStore) })
		t.Run("detected cases traced", func(t *testing.T) { testDetectedTrace(t, newStore) })
		t.Run("manual cases traced", func(t *testing.T) { testManualTrace(t, newStore) })
		t.Run("cached verification", func(t *testing.T) { testVerifyCached(t, newStore) })
	}
	t.Run("sqlite", func(t *testing.T) { suite(t, sqliteStore) })
	t.Run("postgres", func(t *testing.T) { suite(t, postgresStores(pgtest.Start(t))) })
}

func testRecord(t *testing.T, newStore newStoreFunc) {
	s, dsn := newStore(t)
	d1, err := s.Record(ctx, casestore.NewDisposition{IP: "10.1.0.1", Unit: "u-a", Stage: "located", Class: "active", Note: "实验楼301"}, lead)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := s.Record(ctx, casestore.NewDisposition{IP: "10.1.0.1", Unit: "u-a", Stage: "closed", Class: "active"}, lead)
	if err != nil {
		t.Fatal(err)
	}
	if d1.CaseID != d2.CaseID {
		t.Errorf("second disposition opened case %d, want the open case %d", d2.CaseID, d1.CaseID)
	}
	// the case is closed: the next disposition of the IP starts a new case (a relapse)
	d3, err := s.Record(ctx, casestore.NewDisposition{IP: "10.1.0.1", Unit: "u-a", Stage: "located", Class: "passive"}, ops)
	if err != nil {
		t.Fatal(err)
	}
	if d3.CaseID == d1.CaseID {
		t.Errorf("a disposition after closed went to the closed case %d", d1.CaseID)
	}
	// Cases says which case is closed, and when (the cut-off list ends with it).
	closedCases, err := s.Cases(ctx, scope("u-a"), "10.1.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if c := closedCases; len(c) != 2 || c[0].ID != d1.CaseID || !c[0].Closed.Equal(d2.At) || !c[1].Closed.IsZero() {
		t.Errorf("cases %+v: want case %d closed at %s, case %d open", closedCases, d1.CaseID, d2.At, d3.CaseID)
	}
	// an injection-shaped note is stored as text and read back as it was
	inert := "\"} 1\nminewatch_case_disposition{ip=\"x'); DROP TABLE cases; --"
	if _, err := s.Record(ctx, casestore.NewDisposition{IP: "10.2.0.1", Unit: "u-b", Stage: "reported", Class: "research", Note: inert}, ops); err != nil {
		t.Fatal(err)
	}
	// read through a second connection: what was acknowledged is in the database
	again, err := casestore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	all, err := again.Dispositions(ctx, campaign.Scope{All: true}, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 || all[0].Author != "lead-a" || all[0].AuthorRole != "Editor" || all[0].Note != "实验楼301" ||
		all[2].Author != "root" || all[3].Note != inert || all[3].Unit != "u-b" || !all[0].At.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("dispositions: %+v", all)
	}
	onlyA, err := again.Dispositions(ctx, scope("u-a"), t0, t0.Add(time.Hour))
	if err != nil || len(onlyA) != 3 {
		t.Errorf("scope u-a: %v %+v", err, onlyA)
	}
	for _, d := range onlyA {
		if d.Unit != "u-a" {
			t.Errorf("scope u-a returned %+v", d)
		}
	}
	if none, _ := again.Dispositions(ctx, campaign.Scope{}, t0, t0.Add(time.Hour)); len(none) != 0 {
		t.Errorf("empty scope returned %+v", none)
	}
	cases, err := again.Cases(ctx, campaign.Scope{All: true}, "10.1.0.1")
	if err != nil || len(cases) != 2 || cases[0].Source != casestore.SourceDetected || cases[0].CreatedBy != "lead-a" {
		t.Errorf("cases of 10.1.0.1: %v %+v", err, cases)
	}
	// a notice opens a case with its deadlines; its IPs come back sorted and canonical
	c, err := again.OpenCase(ctx, casestore.Case{Unit: "u-c", IPs: []string{"2001:db8::1", "::ffff:10.3.0.9"}, Source: casestore.SourceNotice,
		Device: "宿舍楼 PC", Person: "张同学", LocateDeadline: t0.Add(48 * time.Hour), ReportDeadline: t0.Add(72 * time.Hour)}, ops)
	if err != nil || c.IPs[0] != "10.3.0.9" || c.IPs[1] != "2001:db8::1" {
		t.Errorf("open case: %v %+v", err, c)
	}
	v, err := again.Verify(ctx)
	if err != nil || v.Entries != 8 || len(v.Head) != 64 { // 4 cases + 4 dispositions
		t.Errorf("verify: %v %+v", err, v)
	}
}

func testInvalid(t *testing.T, newStore newStoreFunc) {
	s, _ := newStore(t)
	ok := casestore.NewDisposition{IP: "10.0.0.1", Unit: "u-a", Stage: "located", Class: "active"}
	for name, c := range map[string]struct {
		d  func(casestore.NewDisposition) casestore.NewDisposition
		by casestore.Author
	}{
		"label injection in the IP": {func(d casestore.NewDisposition) casestore.NewDisposition {
			d.IP = "10.0.0.1\"} 1\nminewatch_case_disposition{ip=\"x"
			return d
		}, lead},
		"SQL in the IP":     {func(d casestore.NewDisposition) casestore.NewDisposition { d.IP = "10.0.0.1' OR '1'='1"; return d }, lead},
		"zone in the IP":    {func(d casestore.NewDisposition) casestore.NewDisposition { d.IP = "fe80::1%eth0"; return d }, lead},
		"injection in unit": {func(d casestore.NewDisposition) casestore.NewDisposition { d.Unit = `u-a"} or vector(1)`; return d }, lead},
		"empty unit":        {func(d casestore.NewDisposition) casestore.NewDisposition { d.Unit = ""; return d }, lead},
		"bad stage":         {func(d casestore.NewDisposition) casestore.NewDisposition { d.Stage = "deleted"; return d }, lead},
		"bad class":         {func(d casestore.NewDisposition) casestore.NewDisposition { d.Class = "bogus"; return d }, lead},
		"note too long": {func(d casestore.NewDisposition) casestore.NewDisposition {
			d.Note = strings.Repeat("矿", casestore.MaxNote+1)
			return d
		}, lead},
		"control characters": {func(d casestore.NewDisposition) casestore.NewDisposition { d.Note = "ok\x1b[2J"; return d }, lead},
		"bad source":         {func(d casestore.NewDisposition) casestore.NewDisposition { d.Source = "vm"; return d }, lead},
		"no author":          {func(d casestore.NewDisposition) casestore.NewDisposition { return d }, casestore.Author{Role: "Editor", Via: "grafana"}},
		"blank author":       {func(d casestore.NewDisposition) casestore.NewDisposition { return d }, casestore.Author{Login: " ", Role: "Editor", Via: "grafana"}},
		"bad role":           {func(d casestore.NewDisposition) casestore.NewDisposition { return d }, casestore.Author{Login: "x", Role: "Admin'--", Via: "grafana"}},
	} {
		if _, err := s.Record(ctx, c.d(ok), c.by); !errors.Is(err, casestore.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if all, _ := s.Dispositions(ctx, campaign.Scope{All: true}, t0.Add(-time.Hour), t0.Add(time.Hour)); len(all) != 0 {
		t.Errorf("refused writes left records: %+v", all)
	}
	if _, err := s.Record(ctx, ok, lead); err != nil {
		t.Errorf("the valid write: %v", err)
	}
}

// testTamper edits and deletes behind the store's back, as someone hiding
// mining would, and expects Verify to name what was done.
func testTamper(t *testing.T, newStore newStoreFunc) {
	for _, c := range []struct{ name, sql, want string }{
		{"edit a disposition", `UPDATE dispositions SET class = 'false-positive' WHERE id = 2`, "disposition/2 was edited"},
		{"delete a disposition", `DELETE FROM dispositions WHERE id = 3`, "disposition/3 is in the audit trail but was deleted"},
		{"edit an audit entry", `UPDATE audit SET payload = REPLACE(payload, 'lead-a', 'someone') WHERE seq = 3`, "entry 3 (disposition.record disposition/2) was edited"},
		{"delete an audit entry", `DELETE FROM audit WHERE seq = 2`, "entry 3 found where 2 was expected"},
		{"insert around the store", `INSERT INTO dispositions (case_id, ip, stage, class, note, author, author_role, via, at_ms) VALUES (1, '10.1.0.1', 'closed', 'false-positive', '', 'x', 'Admin', 'grafana', 1)`, "has no audit entry"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, dsn := newStore(t)
			for _, st := range []string{"located", "reported", "closed"} {
				if _, err := s.Record(ctx, casestore.NewDisposition{IP: "10.1.0.1", Unit: "u-a", Stage: st, Class: "active"}, lead); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Verify(ctx); err != nil {
				t.Fatalf("before tampering: %v", err)
			}
			db, err := sql.Open(driver(dsn), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(c.sql); err != nil {
				t.Fatal(err)
			}
			_, err = s.Verify(ctx)
			if !errors.Is(err, casestore.ErrTampered) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("after %s: %v, want %q", c.name, err, c.want)
			}
		})
	}
}

func driver(dsn string) string {
	if casestore.IsPostgres(dsn) {
		return "pgx"
	}
	return "sqlite"
}

// testConcurrent has two stores (two Grafana instances, or Grafana and the
// CLI) write at once: every write lands and the chain stays one chain.
func testConcurrent(t *testing.T, newStore newStoreFunc) {
	a, dsn := newStore(t)
	b := open(t, dsn)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i, s := range []*casestore.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 20; k++ {
				_, err := s.Record(ctx, casestore.NewDisposition{IP: fmt.Sprintf("10.%d.0.%d", i, k), Unit: "u-a", Stage: "located", Class: "active"}, lead)
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	v, err := a.Verify(ctx)
	if err != nil || v.Entries != 80 {
		t.Errorf("after concurrent writes: %v %+v", err, v)
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "cases.db")
	for i := 0; i < 2; i++ {
		s, err := casestore.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	db, _ := sql.Open("sqlite", dsn)
	defer db.Close()
	var n, v int
	if err := db.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &v); err != nil || n != 4 || v != 4 {
		t.Errorf("schema_migrations: %d rows, version %d, %v", n, v, err)
	}
	st, _ := os.Stat(dsn)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("store file mode %v, want 0600 (it names people)", st.Mode().Perm())
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (99, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := casestore.Open(ctx, dsn); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("a store from a newer version: %v", err)
	}
}

// TestAcknowledgedSurvivesKill writes from a child process that prints each
// acknowledged record, kills it with SIGKILL in the middle of its writes,
// and checks that every record it acknowledged is in the store.
func TestAcknowledgedSurvivesKill(t *testing.T) {
	if dsn := os.Getenv("CASESTORE_CHILD_DSN"); dsn != "" {
		s, err := casestore.Open(ctx, dsn)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		for k := 0; ; k++ {
			d, err := s.Record(ctx, casestore.NewDisposition{IP: fmt.Sprintf("10.0.%d.%d", k/250, k%250), Unit: "u-a", Stage: "located", Class: "active"}, ops)
			if err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
			fmt.Println("ack", d.IP)
		}
	}
	dsn := filepath.Join(t.TempDir(), "cases.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcknowledgedSurvivesKill$")
	cmd.Env = append(os.Environ(), "CASESTORE_CHILD_DSN="+dsn)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 25 {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "ack" {
			acked = append(acked, f[1])
		} else if len(f) > 0 && f[0] == "error" {
			t.Fatal(sc.Text())
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if len(acked) < 25 {
		t.Fatalf("child acknowledged only %d records", len(acked))
	}
	s, err := casestore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all, err := s.Dispositions(ctx, campaign.Scope{All: true}, time.Unix(0, 0), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, d := range all {
		have[d.IP] = true
	}
	for _, ip := range acked {
		if !have[ip] {
			t.Errorf("acknowledged %s lost after kill -9", ip)
		}
	}
	if _, err := s.Verify(ctx); err != nil {
		t.Errorf("chain after kill -9: %v", err)
	}
	t.Logf("%d acknowledged before kill -9, %d in the store", len(acked), len(all))
}

func TestErrorsNeverShowThePassword(t *testing.T) {
	_, err := casestore.Open(ctx, "postgres://grafana:s3cr3t-pw@127.0.0.1:1/cases?sslmode=disable&connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "s3cr3t-pw") || !strings.Contains(err.Error(), "grafana:***@127.0.0.1:1") {
		t.Errorf("error for an unreachable PostgreSQL: %v", err)
	}
	if _, err := casestore.Open(ctx, ""); err == nil {
		t.Error("empty store name accepted")
	}
}
