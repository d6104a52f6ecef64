package casestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sort"
	"strings"
	"sync"
	"time"
)

// The audit trail is a hash chain: entry n stores the SHA-256 of entry n-1
// and its own hash over (seq, time, actor, action, entity, payload,
// previous hash). Editing an entry breaks its hash, deleting one breaks the
// sequence and the next entry's link, and the payload of each case and
// disposition row's entry is compared with the row itself, so editing or
// deleting a record without rewriting the whole chain after it is detected.
// Rewriting the chain from some point on is only detectable against a head
// hash kept elsewhere: Verify returns the head so that it can be written
// down (in the weekly report, say) and compared later.

// genesis is the previous hash of the first entry.
var genesis = strings.Repeat("0", 64)

// ErrTampered is returned by Verify when the chain or a record does not match.
var ErrTampered = errors.New("audit trail does not verify")

// Entry is one audit entry.
type Entry struct {
	Seq                     int64
	At                      time.Time
	Actor, Action, Entity   string
	Payload, PrevHash, Hash string
}

func entryHash(seq, atMS int64, actor, action, entity, payload, prev string) string {
	// A JSON array frames the fields unambiguously whatever they contain.
	b, _ := json.Marshal([]any{seq, atMS, actor, action, entity, payload, prev})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// appendAudit adds an entry in the caller's transaction. On SQLite the write
// transaction already holds the database lock from BEGIN; on PostgreSQL a
// transaction advisory lock makes appends one at a time.
func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, by Author, action, entity string, payload any) error {
	if s.postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, auditLock); err != nil {
			return err
		}
	}
	p, err := marshal(payload)
	if err != nil {
		return err
	}
	var seq int64
	prev := genesis
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	seq++
	at := s.Now().UnixMilli()
	actor := by.Via + ":" + by.Login + " (" + by.Role + ")"
	_, err = tx.ExecContext(ctx, `INSERT INTO audit (seq, at_ms, actor, action, entity, payload, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, seq, at, actor, action, entity, p, prev, entryHash(seq, at, actor, action, entity, p, prev))
	return err
}

// Audit returns the whole trail, oldest first.
func (s *Store) Audit(ctx context.Context) ([]Entry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, at_ms, actor, action, entity, payload, prev_hash, hash FROM audit ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Entity, &e.Payload, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		e.At = time.UnixMilli(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Verified is what a successful Verify saw.
type Verified struct {
	Entries int
	Head    string // hash of the newest entry (genesis when empty)
}

// Verify checks the chain (sequence without gaps, each link, each hash) and
// that every case and disposition row matches its audit entry and every
// entry's record still exists. Every problem found is listed in the error.
// It reads and hashes everything, attachments' content included.
func (s *Store) Verify(ctx context.Context) (Verified, error) { return s.verify(ctx, false) }

// FullVerifyEvery is how old the last full verification may be before
// VerifyCached does a full one again.
const FullVerifyEvery = time.Hour

// VerifyCached is Verify for a page shown often (the case page): it starts
// from what the last successful verification established (verifyCache)
// instead of re-hashing the whole store each time. Every entry is still
// read, and the entries up to the verified head must still be, byte for
// byte, what was verified (one digest over them, not a hash per entry):
// an entry edited, deleted or inserted anywhere, or a head that moved
// backwards, makes it verify in full and report the problem. Entries after
// the head are verified as Verify does; every record is compared with its
// entry; an attachment's content is re-hashed only when it is new or its
// row or stored length changed. A same-length rewrite of an attachment's
// bytes is left to the full verification, done again at least every
// FullVerifyEvery (and by minewatch case-verify).
func (s *Store) VerifyCached(ctx context.Context) (Verified, error) { return s.verify(ctx, true) }

// verifyCache is what the last successful verification established.
type verifyCache struct {
	mu     sync.Mutex
	seq    int64            // entries verified: 1..seq
	head   string           // hash of entry seq
	digest []byte           // prefixDigest of entries 1..seq as stored
	attach map[int64]attSum // attachments whose content was hashed: size and SHA-256 then
	full   time.Time        // when the last full verification was done
}

type attSum struct {
	size int64
	sum  string
}

// prefixDigest adds entries to one running SHA-256 of the rows as stored
// (each field length-prefixed): any change to any field of any entry
// changes it, at the cost of one pass over the bytes.
func prefixDigest(h hash.Hash, entries []Entry) {
	var b []byte
	for _, e := range entries {
		b = binary.AppendVarint(b[:0], e.Seq)
		b = binary.AppendVarint(b, e.At.UnixMilli())
		for _, f := range [...]string{e.Actor, e.Action, e.Entity, e.Payload, e.PrevHash, e.Hash} {
			b = binary.AppendUvarint(b, uint64(len(f)))
			b = append(b, f...)
		}
		h.Write(b)
	}
}

func (s *Store) verify(ctx context.Context, cached bool) (Verified, error) {
	s.verified.mu.Lock()
	defer s.verified.mu.Unlock()
	v, fromCache, err := s.verifyLocked(ctx, cached)
	if err != nil && fromCache { // what the cache took as verified may hide the cause: look at everything
		v, _, err = s.verifyLocked(ctx, false)
	}
	return v, err
}

// verifyLocked verifies, from the cache when cached and it still holds
// (fromCache says so); s.verified.mu is held.
func (s *Store) verifyLocked(ctx context.Context, cached bool) (v Verified, fromCache bool, err error) {
	entries, err := s.Audit(ctx)
	if err != nil {
		return Verified{}, false, fmt.Errorf("case store %s: %w", s.where, err)
	}
	c := &s.verified
	// From the verified head on when the entries before it are unchanged.
	from, prev := 0, genesis
	var known map[int64]attSum
	dig := sha256.New()
	if cached && c.seq > 0 && c.seq <= int64(len(entries)) && s.Now().Sub(c.full) < FullVerifyEvery {
		prefixDigest(dig, entries[:c.seq])
		if bytes.Equal(dig.Sum(nil), c.digest) && entries[c.seq-1].Hash == c.head {
			from, prev, known = int(c.seq), c.head, c.attach
		}
	}
	if from == 0 {
		dig.Reset()
	}
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	latest := map[string]string{} // entity → payload of its newest entry
	for i, e := range entries {
		latest[e.Entity] = e.Payload
		if i < from {
			continue
		}
		if want := int64(i + 1); e.Seq != want {
			bad("entry %d found where %d was expected (entries deleted or inserted)", e.Seq, want)
		}
		if e.PrevHash != prev {
			bad("entry %d does not link to the entry before it", e.Seq)
		}
		if h := entryHash(e.Seq, e.At.UnixMilli(), e.Actor, e.Action, e.Entity, e.Payload, e.PrevHash); h != e.Hash {
			bad("entry %d (%s %s) was edited: its hash does not match its content", e.Seq, e.Action, e.Entity)
		}
		prev = e.Hash
	}
	prefixDigest(dig, entries[from:])
	seen := map[int64]attSum{}
	rows, err := s.recordPayloads(ctx, known, seen)
	if err != nil {
		return Verified{}, false, fmt.Errorf("case store %s: %w", s.where, err)
	}
	for entity, p := range rows {
		a, ok := latest[entity]
		switch {
		case !ok:
			bad("%s has no audit entry (written around the store)", entity)
		case a != p:
			bad("%s was edited: it differs from its audit entry", entity)
		}
	}
	for entity := range latest {
		if _, ok := rows[entity]; !ok {
			bad("%s is in the audit trail but was deleted", entity)
		}
	}
	if len(problems) > 0 {
		c.seq, c.head, c.digest, c.attach = 0, "", nil, nil
		sort.Strings(problems)
		return Verified{}, from > 0, fmt.Errorf("%w: %s", ErrTampered, strings.Join(problems, "; "))
	}
	c.seq, c.head, c.digest, c.attach = int64(len(entries)), prev, dig.Sum(nil), seen
	if from == 0 {
		c.full = s.Now()
	}
	return Verified{Entries: len(entries), Head: prev}, from > 0, nil
}

// recordPayloads renders every case, notice, attachment, trace and
// disposition row as its audit payload. Attachments in known (content
// hashed before, row unchanged) are not read again; seen gets the
// attachments' size and SHA-256 as checked.
func (s *Store) recordPayloads(ctx context.Context, known, seen map[int64]attSum) (map[string]string, error) {
	out := map[string]string{}
	cases, err := s.Cases(ctx, allUnits, "")
	if err != nil {
		return nil, err
	}
	// A case row without IPs does not come back from Cases; count them apart.
	var orphans []int64
	rs, err := s.db.QueryContext(ctx, `SELECT id FROM cases WHERE id NOT IN (SELECT case_id FROM case_ips)`)
	if err != nil {
		return nil, err
	}
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			rs.Close()
			return nil, err
		}
		orphans = append(orphans, id)
	}
	rs.Close()
	for _, id := range orphans {
		out[caseEntity(id)] = "(case without IPs)"
	}
	for _, c := range cases {
		p, err := marshal(c.payload())
		if err != nil {
			return nil, err
		}
		out[caseEntity(c.ID)] = p
	}
	if err := s.noticePayloads(ctx, out); err != nil {
		return nil, err
	}
	if err := s.attachmentPayloads(ctx, out, known, seen); err != nil {
		return nil, err
	}
	if err := s.tracePayloads(ctx, out); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, case_id, ip, stage, class, note, author, author_role, via, at_ms FROM dispositions`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var d dispositionPayload
		if err := rows.Scan(&d.ID, &d.CaseID, &d.IP, &d.Stage, &d.Class, &d.Note, &d.Author, &d.AuthorRole, &d.Via, &d.At); err != nil {
			return nil, err
		}
		p, err := marshal(d)
		if err != nil {
			return nil, err
		}
		out[dispositionEntity(d.ID)] = p
	}
	return out, rows.Err()
}

// CaseEntries counts the audit entries about case caseID's records: the
// case itself and its dispositions, notices and attachments (their payloads
// name the case).
func (s *Store) CaseEntries(ctx context.Context, caseID int64) (int, error) {
	entries, err := s.Audit(ctx)
	if err != nil {
		return 0, fmt.Errorf("case store %s: %w", s.where, err)
	}
	n := 0
	for _, e := range entries {
		if e.Entity == caseEntity(caseID) {
			n++
			continue
		}
		var p struct {
			CaseID int64 `json:"case_id"`
		}
		if json.Unmarshal([]byte(e.Payload), &p) == nil && p.CaseID == caseID {
			n++
		}
	}
	return n, nil
}
