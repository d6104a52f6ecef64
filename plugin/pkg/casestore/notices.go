package casestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
)

// ErrDuplicateNotice marks a notice already in the store (same number,
// address and window): importing a file twice opens no second case.
var ErrDuplicateNotice = errors.New("notice already imported")

// MaxTrace bounds the stored trace of a notice (JSON, package trace).
const MaxTrace = 64 * 1024

// Notice is an upstream notice (上级通报) as stored, with the trace that
// tied it to its case.
type Notice struct {
	ID, CaseID           int64
	Number               string // 通报编号 ("" when the sender gave none)
	EgressIP             string // the address the notice names
	Start, End, Notified time.Time
	Remote               string // remote endpoint (IP or IP:port), "" when unknown
	Trace                string // how the case was traced: JSON written by package trace
	Imported             time.Time
	ImportedBy           string
}

type noticePayload struct {
	ID         int64  `json:"id"`
	CaseID     int64  `json:"case_id"`
	Number     string `json:"number"`
	EgressIP   string `json:"egress_ip"`
	Start      int64  `json:"window_start_ms"`
	End        int64  `json:"window_end_ms"`
	Notified   int64  `json:"notified_ms"`
	Remote     string `json:"remote"`
	Trace      string `json:"trace"`
	Imported   int64  `json:"imported_ms"`
	ImportedBy string `json:"imported_by"`
}

func (n Notice) payload() noticePayload {
	return noticePayload{ID: n.ID, CaseID: n.CaseID, Number: n.Number, EgressIP: n.EgressIP,
		Start: n.Start.UnixMilli(), End: n.End.UnixMilli(), Notified: n.Notified.UnixMilli(),
		Remote: n.Remote, Trace: n.Trace, Imported: n.Imported.UnixMilli(), ImportedBy: n.ImportedBy}
}

func noticeEntity(id int64) string { return "notice/" + strconv.FormatInt(id, 10) }

func (n Notice) validate() (Notice, error) {
	var err error
	if n.EgressIP, err = ParseIP(n.EgressIP); err != nil {
		return n, err
	}
	if n.Start.IsZero() || n.End.Before(n.Start) || n.Notified.IsZero() {
		return n, invalid("notice %q: a window (start ≤ end) and a notice time are required", n.Number)
	}
	if err := checkText("notice number", n.Number, MaxName, false); err != nil {
		return n, err
	}
	if err := checkText("remote", n.Remote, MaxName, false); err != nil {
		return n, err
	}
	if err := checkText("trace", n.Trace, MaxTrace, true); err != nil {
		return n, err
	}
	return n, nil
}

// followsDevice reports whether a device key names the machine itself (a
// MAC or an account) rather than only an address: only then may a case
// follow it to another address.
func followsDevice(key string) bool {
	return strings.HasPrefix(key, campaign.DeviceKeyMAC) || strings.HasPrefix(key, campaign.DeviceKeyAccount)
}

// OpenNoticeCase stores a notice and its case in one transaction. When
// c.DeviceKey names a MAC or an account and the unit has an open case
// following that device, the notice joins that case — which gains the
// notice's IPs (audit action case.follow) — instead of opening a second case
// for the same machine at its new address. followed says which happened.
func (s *Store) OpenNoticeCase(ctx context.Context, n Notice, c Case, by Author) (stored Case, sn Notice, followed bool, err error) {
	if err := checkAuthor(by); err != nil {
		return Case{}, Notice{}, false, err
	}
	c.Source = SourceNotice
	if c, err = c.validate(); err != nil {
		return Case{}, Notice{}, false, err
	}
	if n, err = n.validate(); err != nil {
		return Case{}, Notice{}, false, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var dup int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM notices WHERE number = $1 AND egress_ip = $2 AND window_start_ms = $3 AND window_end_ms = $4`,
			n.Number, n.EgressIP, n.Start.UnixMilli(), n.End.UnixMilli()).Scan(&dup)
		switch {
		case err == nil:
			return fmt.Errorf("%w: notice %q for %s is notice %d", ErrDuplicateNotice, n.Number, n.EgressIP, dup)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		existing, err := s.deviceCase(ctx, tx, c.Unit, c.DeviceKey)
		if err != nil {
			return err
		}
		if existing >= 0 {
			stored, err = s.followCase(ctx, tx, existing, c, by)
			followed = true
		} else {
			stored, err = s.insertCase(ctx, tx, c, by)
		}
		if err != nil {
			return err
		}
		n.CaseID, n.Imported, n.ImportedBy = stored.ID, s.Now().Truncate(time.Millisecond), by.Login
		if err := tx.QueryRowContext(ctx, `INSERT INTO notices (case_id, number, egress_ip, window_start_ms, window_end_ms, notified_ms, remote, trace, imported_ms, imported_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
			n.CaseID, n.Number, n.EgressIP, n.Start.UnixMilli(), n.End.UnixMilli(), n.Notified.UnixMilli(), n.Remote, n.Trace,
			n.Imported.UnixMilli(), n.ImportedBy).Scan(&n.ID); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, "notice.import", noticeEntity(n.ID), n.payload())
	})
	if err != nil {
		return Case{}, Notice{}, false, fmt.Errorf("case store %s: %w", s.where, err)
	}
	return stored, n, followed, nil
}

// followCase adds the IPs of c to case id, and its device and person where
// the case has none yet; the case keeps its own deadlines (counted from its
// first notice).
func (s *Store) followCase(ctx context.Context, tx *sql.Tx, id int64, c Case, by Author) (Case, error) {
	var cur Case
	var ld, rd sql.NullInt64
	var created int64
	if err := tx.QueryRowContext(ctx, `SELECT id, unit, device, person, source, locate_deadline_ms, report_deadline_ms, created_ms, created_by, device_key FROM cases WHERE id = $1`, id).
		Scan(&cur.ID, &cur.Unit, &cur.Device, &cur.Person, &cur.Source, &ld, &rd, &created, &cur.CreatedBy, &cur.DeviceKey); err != nil {
		return Case{}, err
	}
	cur.LocateDeadline, cur.ReportDeadline, cur.Created = timeOf(ld), timeOf(rd), time.UnixMilli(created)
	rows, err := tx.QueryContext(ctx, `SELECT ip FROM case_ips WHERE case_id = $1`, id)
	if err != nil {
		return Case{}, err
	}
	for rows.Next() {
		var ip string
		if err := rows.Scan(&ip); err != nil {
			rows.Close()
			return Case{}, err
		}
		cur.IPs = append(cur.IPs, ip)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Case{}, err
	}
	for _, ip := range c.IPs {
		if slices.Contains(cur.IPs, ip) {
			continue
		}
		if len(cur.IPs) >= maxCaseIP {
			return Case{}, invalid("case %d already holds %d IPs", id, maxCaseIP)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO case_ips (case_id, ip) VALUES ($1, $2)`, id, ip); err != nil {
			return Case{}, err
		}
		cur.IPs = append(cur.IPs, ip)
	}
	slices.Sort(cur.IPs)
	if cur.Device == "" {
		cur.Device = c.Device
	}
	if cur.Person == "" {
		cur.Person = c.Person
	}
	if _, err := tx.ExecContext(ctx, `UPDATE cases SET device = $1, person = $2 WHERE id = $3`, cur.Device, cur.Person, id); err != nil {
		return Case{}, err
	}
	return cur, s.appendAudit(ctx, tx, by, "case.follow", caseEntity(id), cur.payload())
}

// Notices lists the stored notices of the scope's units, oldest first
// (caseID 0 for all cases).
func (s *Store) Notices(ctx context.Context, sc campaign.Scope, caseID int64) ([]Notice, error) {
	if sc.Empty() {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT n.id, n.case_id, n.number, n.egress_ip, n.window_start_ms, n.window_end_ms, n.notified_ms, n.remote, n.trace, n.imported_ms, n.imported_by, c.unit
		FROM notices n JOIN cases c ON c.id = n.case_id
		WHERE $1 = 0 OR n.case_id = $1 ORDER BY n.id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("case store %s: %w", s.where, err)
	}
	defer rows.Close()
	var out []Notice
	for rows.Next() {
		var n Notice
		var st, en, no, im int64
		var unit string
		if err := rows.Scan(&n.ID, &n.CaseID, &n.Number, &n.EgressIP, &st, &en, &no, &n.Remote, &n.Trace, &im, &n.ImportedBy, &unit); err != nil {
			return nil, err
		}
		if !sc.Allows(unit) {
			continue
		}
		n.Start, n.End, n.Notified, n.Imported = time.UnixMilli(st), time.UnixMilli(en), time.UnixMilli(no), time.UnixMilli(im)
		out = append(out, n)
	}
	return out, rows.Err()
}

// DeviceKeys maps each IP of a case following a device to that device's
// key (the newest such case wins): what the tracker shows in its device
// column, so that one machine over several DHCP addresses reads as one
// (campaign.DeviceStore).
func (s *Store) DeviceKeys(ctx context.Context, sc campaign.Scope) (map[campaign.HostKey]string, error) {
	if sc.Empty() {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT c.unit, i.ip, c.device_key FROM cases c JOIN case_ips i ON i.case_id = c.id
		WHERE c.device_key <> '' ORDER BY c.id`)
	if err != nil {
		return nil, fmt.Errorf("case store %s: %w", s.where, err)
	}
	defer rows.Close()
	out := map[campaign.HostKey]string{}
	for rows.Next() {
		var k campaign.HostKey
		var key string
		if err := rows.Scan(&k.Unit, &k.IP, &key); err != nil {
			return nil, err
		}
		if sc.Allows(k.Unit) {
			out[k] = key
		}
	}
	return out, rows.Err()
}

// noticePayloads adds every notice row, rendered as its audit payload, for Verify.
func (s *Store) noticePayloads(ctx context.Context, out map[string]string) error {
	ns, err := s.Notices(ctx, allUnits, 0)
	if err != nil {
		return err
	}
	for _, n := range ns {
		p, err := marshal(n.payload())
		if err != nil {
			return err
		}
		out[noticeEntity(n.ID)] = p
	}
	return nil
}
