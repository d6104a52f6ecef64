package casestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
)

// ErrInvalid marks a write refused for what it asked (bad IP, unit, stage,
// class, over-long or control-character text, missing author).
var ErrInvalid = errors.New("invalid case record")

// Case sources.
const (
	SourceDetected = "detected" // flagged by minewatch
	SourceNotice   = "notice"   // an upstream notice (CNCERT, communications administration, bureau)
	SourceManual   = "manual"   // opened by hand
)

// Where a write came from.
const (
	ViaGrafana = "grafana"
	ViaCLI     = "cli"
)

// Limits on free text, in characters.
const (
	MaxNote   = 2000
	MaxName   = 200 // device, person, author login
	maxRole   = 40
	maxCaseIP = 64
)

// Author is who records: the Grafana user (login and org role) for writes
// through the plugin, the OS user for the CLI.
type Author struct {
	Login, Role, Via string
}

// Case is one case: an IP (or several: one device moving across DHCP
// addresses) of a unit, traced to a device and a person.
type Case struct {
	ID                             int64
	Unit                           string
	IPs                            []string
	Device, Person, Source         string
	DeviceKey                      string    // campaign.DeviceKey of what the case follows ("" when not known)
	LocateDeadline, ReportDeadline time.Time // zero: none set
	Created                        time.Time
	CreatedBy                      string
	Closed                         time.Time // first closed disposition; zero while open
}

// Disposition is one recorded step of a case, with its author.
type Disposition struct {
	ID, CaseID int64
	campaign.Disposition
	Via string
}

// NewDisposition is what a write of a disposition asks for. Source is the
// source of the case opened when the IP has no open case (default detected).
//
// CaseID, when set, names the case the disposition is for (the case page's
// form): it must be a case of Unit holding IP and not closed. Unset, the
// open case of (IP, Unit) is taken, or opened.
type NewDisposition struct {
	IP, Unit, Stage, Class, Note string
	Source                       string
	CaseID                       int64
	// DetectedAt is when minewatch flagged the IP (the episode start), or
	// for a manual case when the IP was seen (`minewatch case --at`): the
	// moment a detected or manual case opened by this write is traced at
	// (zero: now).
	DetectedAt time.Time
}

// ErrNotFound marks a case or attachment that does not exist.
var ErrNotFound = errors.New("not found")

// ErrClosed marks a write to a case that is closed (结案): a later
// disposition of its IP opens a new case instead.
var ErrClosed = errors.New("case is closed")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// ParseIP is the one rule for an IP in a case: what net/netip accepts,
// stored in its canonical form (zone not allowed).
func ParseIP(s string) (string, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", invalid("bad IP %q", s)
	}
	return a.Unmap().String(), nil
}

func checkUnit(u string) error {
	if !campaign.ValidUnit(u) {
		return invalid("bad unit id %q: unit ids contain only letters, digits, '_', '.', '-'", u)
	}
	return nil
}

// checkText bounds free text and refuses control characters (a newline and
// a tab are allowed where multiline is).
func checkText(field, s string, max int, multiline bool) error {
	if !utf8.ValidString(s) {
		return invalid("%s is not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return invalid("%s has %d characters, at most %d", field, n, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t')) {
			return invalid("%s contains control character %U", field, r)
		}
	}
	return nil
}

func checkAuthor(a Author) error {
	if strings.TrimSpace(a.Login) == "" {
		return invalid("no author: every record names who made it")
	}
	if err := checkText("author", a.Login, MaxName, false); err != nil {
		return err
	}
	if a.Role == "" || len(a.Role) > maxRole || strings.IndexFunc(a.Role, func(r rune) bool { return !unicode.IsLetter(r) }) >= 0 {
		return invalid("bad author role %q", a.Role)
	}
	if a.Via != ViaGrafana && a.Via != ViaCLI {
		return invalid("bad origin %q: want grafana or cli", a.Via)
	}
	return nil
}

func checkSource(s string) error {
	switch s {
	case SourceDetected, SourceNotice, SourceManual:
		return nil
	}
	return invalid("bad case source %q: want detected, notice or manual", s)
}

// Validate checks a disposition write and returns it normalised (canonical
// IP, default source).
func (d NewDisposition) Validate() (NewDisposition, error) {
	var err error
	if d.IP, err = ParseIP(d.IP); err != nil {
		return d, err
	}
	if err := checkUnit(d.Unit); err != nil {
		return d, err
	}
	if campaign.StageRank(d.Stage) == 0 {
		return d, invalid("bad stage %q: want located, reported or closed", d.Stage)
	}
	if !slices.Contains(campaign.DispositionClasses, d.Class) {
		return d, invalid("bad class %q: want %s", d.Class, strings.Join(campaign.DispositionClasses, ", "))
	}
	if err := checkText("note", d.Note, MaxNote, true); err != nil {
		return d, err
	}
	if d.CaseID < 0 {
		return d, invalid("bad case id %d", d.CaseID)
	}
	if d.Source == "" {
		d.Source = SourceDetected
	}
	return d, checkSource(d.Source)
}

func (c Case) validate() (Case, error) {
	if err := checkUnit(c.Unit); err != nil {
		return c, err
	}
	if len(c.IPs) == 0 || len(c.IPs) > maxCaseIP {
		return c, invalid("a case has 1 to %d IPs, not %d", maxCaseIP, len(c.IPs))
	}
	ips := make([]string, 0, len(c.IPs))
	for _, s := range c.IPs {
		ip, err := ParseIP(s)
		if err != nil {
			return c, err
		}
		if !slices.Contains(ips, ip) {
			ips = append(ips, ip)
		}
	}
	sort.Strings(ips)
	c.IPs = ips
	if err := checkText("device", c.Device, MaxName, false); err != nil {
		return c, err
	}
	if err := checkText("person", c.Person, MaxName, false); err != nil {
		return c, err
	}
	if err := checkText("device key", c.DeviceKey, MaxName, false); err != nil {
		return c, err
	}
	if c.Source == "" {
		c.Source = SourceManual
	}
	return c, checkSource(c.Source)
}

func msOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func timeOf(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64)
}

// casePayload and dispositionPayload are what the audit entry of a row holds:
// the row's full content, so that Verify can tell an edited row.
type casePayload struct {
	ID             int64    `json:"id"`
	Unit           string   `json:"unit"`
	IPs            []string `json:"ips"`
	Device         string   `json:"device"`
	Person         string   `json:"person"`
	Source         string   `json:"source"`
	LocateDeadline *int64   `json:"locate_deadline_ms"`
	ReportDeadline *int64   `json:"report_deadline_ms"`
	Created        int64    `json:"created_ms"`
	CreatedBy      string   `json:"created_by"`
	// omitempty: cases written before device keys existed keep the payload their audit entry holds.
	DeviceKey string `json:"device_key,omitempty"`
}

type dispositionPayload struct {
	ID         int64  `json:"id"`
	CaseID     int64  `json:"case_id"`
	IP         string `json:"ip"`
	Stage      string `json:"stage"`
	Class      string `json:"class"`
	Note       string `json:"note"`
	Author     string `json:"author"`
	AuthorRole string `json:"author_role"`
	Via        string `json:"via"`
	At         int64  `json:"at_ms"`
}

func optMS(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

func (c Case) payload() casePayload {
	return casePayload{ID: c.ID, Unit: c.Unit, IPs: c.IPs, Device: c.Device, Person: c.Person, Source: c.Source,
		LocateDeadline: optMS(c.LocateDeadline), ReportDeadline: optMS(c.ReportDeadline),
		Created: c.Created.UnixMilli(), CreatedBy: c.CreatedBy, DeviceKey: c.DeviceKey}
}

func (d Disposition) payload() dispositionPayload {
	return dispositionPayload{ID: d.ID, CaseID: d.CaseID, IP: d.IP, Stage: d.Stage, Class: d.Class, Note: d.Note,
		Author: d.Author, AuthorRole: d.AuthorRole, Via: d.Via, At: d.At.UnixMilli()}
}

func caseEntity(id int64) string        { return "case/" + strconv.FormatInt(id, 10) }
func dispositionEntity(id int64) string { return "disposition/" + strconv.FormatInt(id, 10) }

// OpenCase opens a case (an upstream notice, or by hand).
func (s *Store) OpenCase(ctx context.Context, c Case, by Author) (Case, error) {
	if err := checkAuthor(by); err != nil {
		return Case{}, err
	}
	c, err := c.validate()
	if err != nil {
		return Case{}, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		c, err = s.insertCase(ctx, tx, c, by)
		return err
	})
	if err != nil {
		return Case{}, fmt.Errorf("case store %s: %w", s.where, err)
	}
	return c, nil
}

func (s *Store) insertCase(ctx context.Context, tx *sql.Tx, c Case, by Author) (Case, error) {
	c.Created, c.CreatedBy = s.Now().Truncate(time.Millisecond), by.Login
	err := tx.QueryRowContext(ctx, `INSERT INTO cases (unit, device, person, source, locate_deadline_ms, report_deadline_ms, created_ms, created_by, device_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		c.Unit, c.Device, c.Person, c.Source, msOrNil(c.LocateDeadline), msOrNil(c.ReportDeadline), c.Created.UnixMilli(), c.CreatedBy, c.DeviceKey).Scan(&c.ID)
	if err != nil {
		return c, err
	}
	for _, ip := range c.IPs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO case_ips (case_id, ip) VALUES ($1, $2)`, c.ID, ip); err != nil {
			return c, err
		}
	}
	return c, s.appendAudit(ctx, tx, by, "case.open", caseEntity(c.ID), c.payload())
}

// Record records a disposition for the open case of (IP, unit) — the newest
// case holding the IP that has not been closed — opening a case first when
// there is none. The returned record is durable.
func (s *Store) Record(ctx context.Context, nd NewDisposition, by Author) (Disposition, error) {
	if err := checkAuthor(by); err != nil {
		return Disposition{}, err
	}
	nd, err := nd.Validate()
	if err != nil {
		return Disposition{}, err
	}
	var det detection
	if nd.CaseID == 0 {
		if det, err = s.traceAhead(ctx, nd.Unit, nd.IP, nd.Source, nd.DetectedAt); err != nil {
			return Disposition{}, fmt.Errorf("case store %s: %w", s.where, err)
		}
	}
	var d Disposition
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var caseID int64
		var err error
		if nd.CaseID > 0 {
			caseID, err = nd.CaseID, s.checkCaseFor(ctx, tx, nd)
		} else {
			caseID, _, err = s.openCaseOf(ctx, tx, nd.Unit, nd.IP, nd.Source, det, by)
		}
		if err != nil {
			return err
		}
		d = Disposition{CaseID: caseID, Via: by.Via, Disposition: campaign.Disposition{
			IP: nd.IP, Unit: nd.Unit, Stage: nd.Stage, Class: nd.Class, Note: nd.Note,
			Author: by.Login, AuthorRole: by.Role, At: s.Now().Truncate(time.Millisecond)}}
		if err := tx.QueryRowContext(ctx, `INSERT INTO dispositions (case_id, ip, stage, class, note, author, author_role, via, at_ms)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			d.CaseID, d.IP, d.Stage, d.Class, d.Note, d.Author, d.AuthorRole, d.Via, d.At.UnixMilli()).Scan(&d.ID); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, "disposition.record", dispositionEntity(d.ID), d.payload())
	})
	if err != nil {
		return Disposition{}, fmt.Errorf("case store %s: %w", s.where, err)
	}
	return d, nil
}

// openCaseQuery finds the open case of (unit, ip): the newest case holding
// the IP that has not been closed.
const openCaseQuery = `SELECT c.id FROM cases c JOIN case_ips i ON i.case_id = c.id
	WHERE c.unit = $1 AND i.ip = $2
	  AND NOT EXISTS (SELECT 1 FROM dispositions d WHERE d.case_id = c.id AND d.stage = 'closed')
	ORDER BY c.id DESC LIMIT 1`

// openCaseOf returns the open case of (unit, ip) — the newest case holding
// the IP that has not been closed — opening one (of the given source) when
// there is none; created says which.
// A detected or manual case is traced at detectedAt (HostTracer) and may
// join the open case of its device instead.
func (s *Store) openCaseOf(ctx context.Context, tx *sql.Tx, unit, ip, source string, det detection, by Author) (id int64, created bool, err error) {
	err = tx.QueryRowContext(ctx, openCaseQuery, unit, ip).Scan(&id)
	if !errors.Is(err, sql.ErrNoRows) {
		return id, false, err
	}
	if source == "" {
		source = SourceDetected
	}
	id, err = s.openDetected(ctx, tx, Case{Unit: unit, IPs: []string{ip}, Source: source}, det, by)
	return id, err == nil, err
}

// checkCaseFor refuses a disposition for a named case that does not exist,
// is another unit's, does not hold the IP, or is closed.
func (s *Store) checkCaseFor(ctx context.Context, tx *sql.Tx, nd NewDisposition) error {
	var unit string
	var closed, hasIP int
	err := tx.QueryRowContext(ctx, `SELECT c.unit,
			(SELECT COUNT(*) FROM dispositions d WHERE d.case_id = c.id AND d.stage = 'closed'),
			(SELECT COUNT(*) FROM case_ips i WHERE i.case_id = c.id AND i.ip = $2)
		FROM cases c WHERE c.id = $1`, nd.CaseID, nd.IP).Scan(&unit, &closed, &hasIP)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: case %d", ErrNotFound, nd.CaseID)
	case err != nil:
		return err
	case unit != nd.Unit:
		return invalid("case %d is not a case of unit %q", nd.CaseID, nd.Unit)
	case hasIP == 0:
		return invalid("case %d does not hold IP %s", nd.CaseID, nd.IP)
	case closed > 0:
		return fmt.Errorf("%w: case %d", ErrClosed, nd.CaseID)
	}
	return nil
}

// OpenCaseOf returns the open case of (unit, ip), opening a case of the
// given source (default detected) when there is none: a written report for
// an IP the tracker shows but nobody has recorded anything for yet needs a
// case to be attached to.
// A detected or manual case is traced at detectedAt (zero: now) when the store has a Tracer.
func (s *Store) OpenCaseOf(ctx context.Context, unit, ip, source string, detectedAt time.Time, by Author) (Case, error) {
	if err := checkAuthor(by); err != nil {
		return Case{}, err
	}
	ip, err := ParseIP(ip)
	if err != nil {
		return Case{}, err
	}
	if err := checkUnit(unit); err != nil {
		return Case{}, err
	}
	if source != "" {
		if err := checkSource(source); err != nil {
			return Case{}, err
		}
	}
	det, err := s.traceAhead(ctx, unit, ip, source, detectedAt)
	if err != nil {
		return Case{}, fmt.Errorf("case store %s: %w", s.where, err)
	}
	var id int64
	if err := s.inTx(ctx, func(tx *sql.Tx) error {
		id, _, err = s.openCaseOf(ctx, tx, unit, ip, source, det, by)
		return err
	}); err != nil {
		return Case{}, fmt.Errorf("case store %s: %w", s.where, err)
	}
	return s.Case(ctx, allUnits, id)
}

// Case returns case id if its unit is in the scope (ErrNotFound otherwise:
// the caller decides whether to tell "not yours" from "none").
func (s *Store) Case(ctx context.Context, sc campaign.Scope, id int64) (Case, error) {
	var c Case
	var ld, rd, closed sql.NullInt64
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT c.id, c.unit, c.device, c.person, c.source, c.locate_deadline_ms, c.report_deadline_ms, c.created_ms, c.created_by, c.device_key,
			(SELECT MIN(d.at_ms) FROM dispositions d WHERE d.case_id = c.id AND d.stage = 'closed')
		FROM cases c WHERE c.id = $1`, id).
		Scan(&c.ID, &c.Unit, &c.Device, &c.Person, &c.Source, &ld, &rd, &created, &c.CreatedBy, &c.DeviceKey, &closed)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !sc.Allows(c.Unit)) {
		return Case{}, fmt.Errorf("%w: case %d", ErrNotFound, id)
	}
	if err != nil {
		return Case{}, fmt.Errorf("case store %s: %w", s.where, err)
	}
	c.LocateDeadline, c.ReportDeadline, c.Created, c.Closed = timeOf(ld), timeOf(rd), time.UnixMilli(created), timeOf(closed)
	rows, err := s.db.QueryContext(ctx, `SELECT ip FROM case_ips WHERE case_id = $1 ORDER BY ip`, id)
	if err != nil {
		return Case{}, fmt.Errorf("case store %s: %w", s.where, err)
	}
	defer rows.Close()
	for rows.Next() {
		var ip string
		if err := rows.Scan(&ip); err != nil {
			return Case{}, err
		}
		c.IPs = append(c.IPs, ip)
	}
	return c, rows.Err()
}

// CaseDispositions returns the dispositions of case id, oldest first (the
// case page's timeline).
func (s *Store) CaseDispositions(ctx context.Context, id int64) ([]Disposition, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.id, d.case_id, d.ip, c.unit, d.stage, d.class, d.note, d.author, d.author_role, d.via, d.at_ms
		FROM dispositions d JOIN cases c ON c.id = d.case_id WHERE d.case_id = $1 ORDER BY d.at_ms, d.id`, id)
	if err != nil {
		return nil, fmt.Errorf("case store %s: %w", s.where, err)
	}
	defer rows.Close()
	var out []Disposition
	for rows.Next() {
		var d Disposition
		var at int64
		if err := rows.Scan(&d.ID, &d.CaseID, &d.IP, &d.Unit, &d.Stage, &d.Class, &d.Note, &d.Author, &d.AuthorRole, &d.Via, &at); err != nil {
			return nil, err
		}
		d.At = time.UnixMilli(at)
		out = append(out, d)
	}
	return out, rows.Err()
}

// Dispositions returns the dispositions recorded in [from, to] for the
// units of the scope, oldest first. It is what the tracker and the weekly
// review read (campaign.DispositionStore).
func (s *Store) Dispositions(ctx context.Context, sc campaign.Scope, from, to time.Time) ([]campaign.Disposition, error) {
	if sc.Empty() {
		return nil, nil
	}
	q := `SELECT d.ip, c.unit, d.stage, d.class, d.note, d.author, d.author_role, d.at_ms
		FROM dispositions d JOIN cases c ON c.id = d.case_id
		WHERE d.at_ms >= $1 AND d.at_ms <= $2`
	args := []any{from.UnixMilli(), to.UnixMilli()}
	if !sc.All {
		// One placeholder per unit; the units themselves go as parameters.
		ph := make([]string, len(sc.Units))
		for i, u := range sc.Units {
			args = append(args, u)
			ph[i] = "$" + strconv.Itoa(len(args))
		}
		q += ` AND c.unit IN (` + strings.Join(ph, ", ") + `)`
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY d.at_ms, d.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("case store %s: %w", s.where, err)
	}
	defer rows.Close()
	var out []campaign.Disposition
	for rows.Next() {
		var d campaign.Disposition
		var at int64
		if err := rows.Scan(&d.IP, &d.Unit, &d.Stage, &d.Class, &d.Note, &d.Author, &d.AuthorRole, &at); err != nil {
			return nil, err
		}
		d.At = time.UnixMilli(at)
		if sc.Allows(d.Unit) {
			out = append(out, d)
		}
	}
	return out, rows.Err()
}

// Cases lists the cases of the scope's units holding ip ("" for all IPs).
func (s *Store) Cases(ctx context.Context, sc campaign.Scope, ip string) ([]Case, error) {
	if sc.Empty() {
		return nil, nil
	}
	if ip != "" {
		var err error
		if ip, err = ParseIP(ip); err != nil {
			return nil, err
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT c.id, c.unit, c.device, c.person, c.source, c.locate_deadline_ms, c.report_deadline_ms, c.created_ms, c.created_by, c.device_key, i.ip,
			(SELECT MIN(d.at_ms) FROM dispositions d WHERE d.case_id = c.id AND d.stage = 'closed')
		FROM cases c JOIN case_ips i ON i.case_id = c.id
		WHERE $1 = '' OR c.id IN (SELECT case_id FROM case_ips WHERE ip = $1)
		ORDER BY c.id, i.ip`, ip)
	if err != nil {
		return nil, fmt.Errorf("case store %s: %w", s.where, err)
	}
	defer rows.Close()
	var out []Case
	for rows.Next() {
		var c Case
		var ld, rd, closed sql.NullInt64
		var created int64
		var cip string
		if err := rows.Scan(&c.ID, &c.Unit, &c.Device, &c.Person, &c.Source, &ld, &rd, &created, &c.CreatedBy, &c.DeviceKey, &cip, &closed); err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && out[n-1].ID == c.ID {
			out[n-1].IPs = append(out[n-1].IPs, cip)
			continue
		}
		if !sc.Allows(c.Unit) {
			continue
		}
		c.LocateDeadline, c.ReportDeadline, c.Created, c.IPs = timeOf(ld), timeOf(rd), time.UnixMilli(created), []string{cip}
		c.Closed = timeOf(closed)
		out = append(out, c)
	}
	return out, rows.Err()
}

func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

var allUnits = campaign.Scope{All: true}
