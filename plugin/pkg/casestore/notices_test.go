package casestore_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
)

// testNotices: a notice opens a case following a MAC; a later notice of the
// same MAC at another address joins that case; a notice of the same address
// without the MAC opens its own; a re-import is refused; the tracker's device
// keys come from the cases; editing a stored notice is detected.
func testNotices(t *testing.T, newStore newStoreFunc) {
	s, dsn := newStore(t)
	mac := campaign.DeviceKey("52:54:00:12:34:56", "zhang3", "10.5.0.50")
	n1 := casestore.Notice{Number: "豫通〔2026〕101号", EgressIP: "203.0.113.7", Start: t0, End: t0.Add(time.Hour), Notified: t0.Add(2 * time.Hour),
		Remote: "192.0.2.10:3333", Trace: `{"links":[]}`}
	c1 := casestore.Case{Unit: "u-a", IPs: []string{"10.5.0.50"}, DeviceKey: mac,
		LocateDeadline: n1.Notified.Add(campaign.LocateDeadline), ReportDeadline: n1.Notified.Add(campaign.ReportDeadline)}
	got1, sn1, followed, err := s.OpenNoticeCase(ctx, n1, c1, ops)
	if err != nil || followed || got1.Source != casestore.SourceNotice || sn1.CaseID != got1.ID || got1.DeviceKey != mac {
		t.Fatalf("first notice: %v followed=%v %+v %+v", err, followed, got1, sn1)
	}
	if _, _, _, err := s.OpenNoticeCase(ctx, n1, c1, ops); !errors.Is(err, casestore.ErrDuplicateNotice) {
		t.Errorf("importing the same notice again: %v, want ErrDuplicateNotice", err)
	}
	n2 := n1
	n2.Number, n2.Start, n2.End, n2.Notified = "豫通〔2026〕102号", t0.Add(24*time.Hour), t0.Add(25*time.Hour), t0.Add(26*time.Hour)
	c2 := c1
	c2.IPs, c2.Device, c2.Person = []string{"10.5.0.60"}, "实验楼301 PC", "张三"
	c2.LocateDeadline, c2.ReportDeadline = n2.Notified.Add(campaign.LocateDeadline), n2.Notified.Add(campaign.ReportDeadline)
	got2, sn2, followed, err := s.OpenNoticeCase(ctx, n2, c2, ops)
	if err != nil || !followed || got2.ID != got1.ID || sn2.CaseID != got1.ID {
		t.Fatalf("second notice of the device: %v followed=%v case %d, want case %d", err, followed, got2.ID, got1.ID)
	}
	if strings.Join(got2.IPs, ",") != "10.5.0.50,10.5.0.60" || got2.Device != "实验楼301 PC" || got2.Person != "张三" ||
		!got2.LocateDeadline.Equal(c1.LocateDeadline) {
		t.Errorf("followed case: %+v (the first notice's deadlines stay)", got2)
	}
	// known only by its address: a case of its own, never merged
	n3 := n1
	n3.Number = "豫通〔2026〕103号"
	c3 := casestore.Case{Unit: "u-a", IPs: []string{"10.5.0.50"}, DeviceKey: campaign.DeviceKey("", "", "10.5.0.50")}
	got3, _, followed, err := s.OpenNoticeCase(ctx, n3, c3, ops)
	if err != nil || followed || got3.ID == got1.ID {
		t.Errorf("an IP-only notice joined a case: %v followed=%v %+v", err, followed, got3)
	}
	keys, err := s.DeviceKeys(ctx, scope("u-a"))
	if err != nil || keys[campaign.HostKey{IP: "10.5.0.60", Unit: "u-a"}] != mac || keys[campaign.HostKey{IP: "10.5.0.50", Unit: "u-a"}] != "ip:10.5.0.50" {
		t.Errorf("device keys: %v %v", err, keys)
	}
	if other, _ := s.DeviceKeys(ctx, scope("u-b")); len(other) != 0 {
		t.Errorf("device keys of another unit: %v", other)
	}
	ns, err := s.Notices(ctx, scope("u-a"), got1.ID)
	if err != nil || len(ns) != 2 || ns[0].Number != n1.Number || ns[1].Number != n2.Number || ns[0].Remote != "192.0.2.10:3333" || !ns[1].Notified.Equal(n2.Notified) {
		t.Errorf("notices of case %d: %v %+v", got1.ID, err, ns)
	}
	v, err := s.Verify(ctx)
	if err != nil || v.Entries != 6 { // 2 cases, 1 follow, 3 notices
		t.Fatalf("verify: %v %+v", err, v)
	}
	// bad input is refused before anything is written
	if _, _, _, err := s.OpenNoticeCase(ctx, casestore.Notice{EgressIP: "not-an-ip", Start: t0, End: t0, Notified: t0}, c1, ops); !errors.Is(err, casestore.ErrInvalid) {
		t.Errorf("bad egress IP: %v", err)
	}
	if _, _, _, err := s.OpenNoticeCase(ctx, casestore.Notice{EgressIP: "203.0.113.7", Start: t0, End: t0.Add(-time.Hour), Notified: t0}, c1, ops); !errors.Is(err, casestore.ErrInvalid) {
		t.Errorf("window ending before it starts: %v", err)
	}
	db, err := sql.Open(driver(dsn), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE notices SET trace = '{"links":["edited"]}' WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx); !errors.Is(err, casestore.ErrTampered) || !strings.Contains(err.Error(), "notice/2 was edited") {
		t.Errorf("after editing a notice: %v", err)
	}
	if _, err := db.Exec(`UPDATE case_ips SET ip = '10.5.0.99' WHERE ip = '10.5.0.60'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx); err == nil || !strings.Contains(err.Error(), "case/1 was edited") {
		t.Errorf("after moving a followed case's IP: %v", err)
	}
}

// TestUpgradeKeepsTheChain: a store written before migration 2 (no device
// keys, no notices) upgrades in place and its audit trail still verifies.
func TestUpgradeKeepsTheChain(t *testing.T) {
	s, dsn := sqliteStore(t)
	if _, err := s.Record(ctx, casestore.NewDisposition{IP: "10.1.0.1", Unit: "u-a", Stage: "located", Class: "active"}, lead); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenCase(ctx, casestore.Case{Unit: "u-a", IPs: []string{"10.1.0.2"}, Source: casestore.SourceManual}, ops); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{ // back to the version-1 schema
		`DROP TABLE notices`, `DROP INDEX cases_device_key`, `ALTER TABLE cases DROP COLUMN device_key`, `DELETE FROM schema_migrations WHERE version = 2`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	again := open(t, dsn)
	v, err := again.Verify(ctx)
	if err != nil || v.Entries != 3 {
		t.Fatalf("after the upgrade: %v %+v", err, v)
	}
	if _, _, _, err := again.OpenNoticeCase(ctx, casestore.Notice{EgressIP: "203.0.113.7", Start: t0, End: t0, Notified: t0, Trace: "{}"},
		casestore.Case{Unit: "u-a", IPs: []string{"10.1.0.1"}, DeviceKey: "mac:52:54:00:12:34:56"}, ops); err != nil {
		t.Fatal(err)
	}
	if _, err := again.Verify(ctx); err != nil {
		t.Errorf("after a notice on the upgraded store: %v", err)
	}
}
