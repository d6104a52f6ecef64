package casestore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"
)

// MaxAttachment bounds one attachment (a written report is tens of KiB).
const MaxAttachment = 8 << 20

// Attachment is a file kept with a case (the written report, 书面报告): its
// content is in the store, its SHA-256 in the row and in the audit entry,
// so an edited file, an edited row or a deleted one is detected by Verify.
type Attachment struct {
	ID, CaseID  int64
	Name        string // file name as downloaded (UTF-8)
	ContentType string
	Size        int64
	SHA256      string // hex
	Author      string
	AuthorRole  string
	Via         string
	At          time.Time
}

type attachmentPayload struct {
	ID          int64  `json:"id"`
	CaseID      int64  `json:"case_id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	Author      string `json:"author"`
	AuthorRole  string `json:"author_role"`
	Via         string `json:"via"`
	At          int64  `json:"at_ms"`
}

func (a Attachment) payload() attachmentPayload {
	return attachmentPayload{ID: a.ID, CaseID: a.CaseID, Name: a.Name, ContentType: a.ContentType, Size: a.Size,
		SHA256: a.SHA256, Author: a.Author, AuthorRole: a.AuthorRole, Via: a.Via, At: a.At.UnixMilli()}
}

func attachmentEntity(id int64) string { return "attachment/" + strconv.FormatInt(id, 10) }

// SHA256Hex is the hex SHA-256 of b, as attachments list it.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// AddAttachment stores a file with case caseID; whether the author may
// write that case's unit is the caller's check. A closed case takes
// attachments too (a report may be filed after closing). The returned row
// is durable.
func (s *Store) AddAttachment(ctx context.Context, caseID int64, name, contentType string, content []byte, by Author) (Attachment, error) {
	if err := checkAuthor(by); err != nil {
		return Attachment{}, err
	}
	if strings.TrimSpace(name) == "" || strings.ContainsAny(name, `/\`) {
		return Attachment{}, invalid("bad attachment name %q", name)
	}
	if err := checkText("attachment name", name, MaxName, false); err != nil {
		return Attachment{}, err
	}
	if _, _, err := mime.ParseMediaType(contentType); err != nil {
		return Attachment{}, invalid("bad content type %q", contentType)
	}
	if len(content) == 0 || len(content) > MaxAttachment {
		return Attachment{}, invalid("an attachment has 1 to %d bytes, not %d", MaxAttachment, len(content))
	}
	a := Attachment{CaseID: caseID, Name: name, ContentType: contentType, Size: int64(len(content)), SHA256: SHA256Hex(content),
		Author: by.Login, AuthorRole: by.Role, Via: by.Via, At: time.UnixMilli(s.Now().UnixMilli())}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM cases WHERE id = $1`, caseID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: case %d", ErrNotFound, caseID)
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO attachments (case_id, name, content_type, size, sha256, content, author, author_role, via, at_ms)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
			a.CaseID, a.Name, a.ContentType, a.Size, a.SHA256, content, a.Author, a.AuthorRole, a.Via, a.At.UnixMilli()).Scan(&a.ID); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, "attachment.add", attachmentEntity(a.ID), a.payload())
	})
	if err != nil {
		return Attachment{}, fmt.Errorf("case store %s: %w", s.where, err)
	}
	return a, nil
}

const attachmentColumns = `id, case_id, name, content_type, size, sha256, author, author_role, via, at_ms`

func scanAttachment(sc interface{ Scan(...any) error }, extra ...any) (Attachment, error) {
	var a Attachment
	var at int64
	dest := append([]any{&a.ID, &a.CaseID, &a.Name, &a.ContentType, &a.Size, &a.SHA256, &a.Author, &a.AuthorRole, &a.Via, &at}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return a, err
	}
	a.At = time.UnixMilli(at)
	return a, nil
}

// Attachments lists the attachments of case caseID (0: of every case),
// oldest first, without their content.
func (s *Store) Attachments(ctx context.Context, caseID int64) ([]Attachment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+attachmentColumns+` FROM attachments WHERE $1 = 0 OR case_id = $1 ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("case store %s: %w", s.where, err)
	}
	defer rows.Close()
	var out []Attachment
	for rows.Next() {
		a, err := scanAttachment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AttachmentContent returns attachment id of case caseID with its content.
func (s *Store) AttachmentContent(ctx context.Context, caseID, id int64) (Attachment, []byte, error) {
	var content []byte
	a, err := scanAttachment(s.db.QueryRowContext(ctx, `SELECT `+attachmentColumns+`, content FROM attachments WHERE id = $1 AND case_id = $2`, id, caseID), &content)
	if errors.Is(err, sql.ErrNoRows) {
		return Attachment{}, nil, fmt.Errorf("%w: attachment %d of case %d", ErrNotFound, id, caseID)
	}
	if err != nil {
		return Attachment{}, nil, fmt.Errorf("case store %s: %w", s.where, err)
	}
	return a, content, nil
}

// attachmentPayloads adds every attachment row, rendered as its audit
// payload with the size and SHA-256 of the content as stored now (not as the
// row says), for Verify: an edited file, or a row edited to match it, does
// not match the audit entry.
func (s *Store) attachmentPayloads(ctx context.Context, out map[string]string, known, seen map[int64]attSum) error {
	// The rows with their stored length first; the content only of those
	// not hashed before or changed since (known), so that a view that
	// verifies often does not re-read every report.
	rows, err := s.db.QueryContext(ctx, `SELECT `+attachmentColumns+`, length(content) FROM attachments`)
	if err != nil {
		return err
	}
	var as []Attachment
	var reread []int
	for rows.Next() {
		var n int64
		a, err := scanAttachment(rows, &n)
		if err != nil {
			rows.Close()
			return err
		}
		if k, ok := known[a.ID]; !ok || k != (attSum{a.Size, a.SHA256}) || n != a.Size {
			reread = append(reread, len(as))
		}
		as = append(as, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, i := range reread {
		a := &as[i]
		var content []byte
		if err := s.db.QueryRowContext(ctx, `SELECT content FROM attachments WHERE id = $1`, a.ID).Scan(&content); err != nil {
			return err
		}
		if a.Size != int64(len(content)) || a.SHA256 != SHA256Hex(content) {
			a.Size, a.SHA256 = int64(len(content)), SHA256Hex(content)+" (content differs from its row)"
		}
	}
	for _, a := range as {
		p, err := marshal(a.payload())
		if err != nil {
			return err
		}
		out[attachmentEntity(a.ID)] = p
		if seen != nil {
			seen[a.ID] = attSum{a.Size, a.SHA256}
		}
	}
	return nil
}
