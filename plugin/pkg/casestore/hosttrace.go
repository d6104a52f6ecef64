package casestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// A case minewatch detected (source detected, opened for an IP the tracker
// shows), or one a person opened by hand (source manual, `minewatch case`),
// is traced like an upstream notice's host: its IP at the detection
// time, looked up in the DHCP leases and RADIUS accounting, gives its MAC
// and account, the ledger its device and person (package trace owns the
// rule; it implements HostTracer). The trace is kept as a record of its
// own, audited like the others, and the case follows the device it found:
// a detected IP whose MAC or account already has an open case of the unit
// joins that case (a PC that DHCP moved is one case). A notice's case is
// traced by the notice import (package trace) and not here.

// traced says whether the store traces a case of this source when it opens
// one (the empty source is detected, the default of a write).
func traced(source string) bool {
	return source == "" || source == SourceDetected || source == SourceManual
}

// HostTracer traces one internal host of a unit at a moment.
type HostTracer interface {
	TraceHost(ctx context.Context, unit, ip string, at time.Time) (HostTrace, error)
}

// HostTrace is what a HostTracer found.
type HostTrace struct {
	Device, Person string
	DeviceKey      string // campaign.DeviceKey of the MAC, account or IP found
	// Trace is the links (step, value, how, certainty, evidence) as JSON
	// written by package trace: the same form as a host of a notice's trace.
	Trace string
}

// StoredTrace is a host trace kept for a case.
type StoredTrace struct {
	ID, CaseID int64
	IP         string
	At         time.Time // the moment traced (detection time)
	Trace      string
	Traced     time.Time
	TracedBy   string
}

type tracePayload struct {
	ID       int64  `json:"id"`
	CaseID   int64  `json:"case_id"`
	IP       string `json:"ip"`
	At       int64  `json:"at_ms"`
	Trace    string `json:"trace"`
	Traced   int64  `json:"traced_ms"`
	TracedBy string `json:"traced_by"`
}

func (t StoredTrace) payload() tracePayload {
	return tracePayload{ID: t.ID, CaseID: t.CaseID, IP: t.IP, At: t.At.UnixMilli(), Trace: t.Trace, Traced: t.Traced.UnixMilli(), TracedBy: t.TracedBy}
}

func traceEntity(id int64) string { return "trace/" + strconv.FormatInt(id, 10) }

// detection is when a detected IP was flagged, or when a manual case's IP
// was seen (zero: now) and, when it was
// traced before the write transaction (traceAhead), what the trace found.
type detection struct {
	at    time.Time
	trace *HostTrace
}

// traceAhead traces a detected (or manual) IP that has no open case before the write
// transaction opens, so that reading the lease and accounting files does
// not hold the store's write lock; the transaction traces only if the open
// case seen here was closed in between.
func (s *Store) traceAhead(ctx context.Context, unit, ip, source string, at time.Time) (detection, error) {
	det := detection{at: at}
	if s.Tracer == nil || !traced(source) {
		return det, nil
	}
	if det.at.IsZero() {
		det.at = s.Now()
	}
	var id int64
	err := s.db.QueryRowContext(ctx, openCaseQuery, unit, ip).Scan(&id)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return det, err // an open case: nothing to trace
	}
	ht, err := s.trace(ctx, unit, ip, det.at)
	det.trace = &ht
	return det, err
}

func (s *Store) trace(ctx context.Context, unit, ip string, at time.Time) (HostTrace, error) {
	ht, err := s.Tracer.TraceHost(ctx, unit, ip, at)
	if err != nil {
		return ht, fmt.Errorf("trace %s: %w", ip, err)
	}
	return ht, checkText("trace", ht.Trace, MaxTrace, true)
}

// traceDetected traces a detected or manual IP (when the store has a tracer) and
// returns the case to open for it, or the id of the unit's open case of the
// same device (MAC or account) that it joins instead (-1 for none).
func (s *Store) traceDetected(ctx context.Context, tx *sql.Tx, c Case, det detection) (Case, *HostTrace, int64, error) {
	if s.Tracer == nil || !traced(c.Source) || len(c.IPs) != 1 {
		return c, nil, -1, nil
	}
	ht := det.trace
	if ht == nil {
		t, err := s.trace(ctx, c.Unit, c.IPs[0], det.at)
		if err != nil {
			return c, nil, -1, err
		}
		ht = &t
	}
	c.Device, c.Person, c.DeviceKey = ht.Device, ht.Person, ht.DeviceKey
	existing, err := s.deviceCase(ctx, tx, c.Unit, c.DeviceKey)
	return c, ht, existing, err
}

// deviceCase is the unit's newest open case following the device key (a MAC
// or an account), -1 when there is none or the key names only an address.
func (s *Store) deviceCase(ctx context.Context, tx *sql.Tx, unit, key string) (int64, error) {
	if !followsDevice(key) {
		return -1, nil
	}
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT c.id FROM cases c
		WHERE c.unit = $1 AND c.device_key = $2
		  AND NOT EXISTS (SELECT 1 FROM dispositions d WHERE d.case_id = c.id AND d.stage = 'closed')
		ORDER BY c.id DESC LIMIT 1`, unit, key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return -1, nil
	}
	return id, err
}

// insertTrace keeps a host trace for case caseID.
func (s *Store) insertTrace(ctx context.Context, tx *sql.Tx, caseID int64, ip string, at time.Time, ht HostTrace, by Author) error {
	t := StoredTrace{CaseID: caseID, IP: ip, At: at.Truncate(time.Millisecond), Trace: ht.Trace, Traced: s.Now().Truncate(time.Millisecond), TracedBy: by.Login}
	if err := tx.QueryRowContext(ctx, `INSERT INTO case_traces (case_id, ip, at_ms, trace, traced_ms, traced_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		t.CaseID, t.IP, t.At.UnixMilli(), t.Trace, t.Traced.UnixMilli(), t.TracedBy).Scan(&t.ID); err != nil {
		return err
	}
	return s.appendAudit(ctx, tx, by, "case.trace", traceEntity(t.ID), t.payload())
}

// openDetected opens the case of a detected (or manual) IP, traced at its
// detection moment, or joins the open case of the device the trace found.
func (s *Store) openDetected(ctx context.Context, tx *sql.Tx, c Case, det detection, by Author) (int64, error) {
	c, ht, existing, err := s.traceDetected(ctx, tx, c, det)
	if err != nil {
		return 0, err
	}
	var id int64
	if existing >= 0 {
		cur, err := s.followCase(ctx, tx, existing, c, by)
		if err != nil {
			return 0, err
		}
		id = cur.ID
	} else {
		cur, err := s.insertCase(ctx, tx, c, by)
		if err != nil {
			return 0, err
		}
		id = cur.ID
	}
	if ht != nil {
		if err := s.insertTrace(ctx, tx, id, c.IPs[0], det.at, *ht, by); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// Traces lists the host traces of case caseID, oldest first (0: all cases).
func (s *Store) Traces(ctx context.Context, caseID int64) ([]StoredTrace, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, case_id, ip, at_ms, trace, traced_ms, traced_by FROM case_traces
		WHERE $1 = 0 OR case_id = $1 ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("case store %s: %w", s.where, err)
	}
	defer rows.Close()
	var out []StoredTrace
	for rows.Next() {
		var t StoredTrace
		var at, traced int64
		if err := rows.Scan(&t.ID, &t.CaseID, &t.IP, &at, &t.Trace, &traced, &t.TracedBy); err != nil {
			return nil, err
		}
		t.At, t.Traced = time.UnixMilli(at), time.UnixMilli(traced)
		out = append(out, t)
	}
	return out, rows.Err()
}

// tracePayloads adds every host trace row, rendered as its audit payload, for Verify.
func (s *Store) tracePayloads(ctx context.Context, out map[string]string) error {
	ts, err := s.Traces(ctx, 0)
	if err != nil {
		return err
	}
	for _, t := range ts {
		p, err := marshal(t.payload())
		if err != nil {
			return err
		}
		out[traceEntity(t.ID)] = p
	}
	return nil
}
