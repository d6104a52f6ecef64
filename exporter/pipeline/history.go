package pipeline

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"
)

// History writes the pipeline's per-host series into VictoriaMetrics on the
// flow clock: each time flow time crosses a step boundary it ticks the engine
// and queues a snapshot stamped with that boundary, so a replayed capture or
// a simulated week lands in VictoriaMetrics as history, not as one point now.
type History struct {
	p      *Pipeline
	url    string // .../api/v1/import/prometheus
	step   int64  // ms
	next   int64  // next boundary to write, Unix ms
	client *http.Client
	buf    bytes.Buffer

	// Snapshots written so far.
	Snapshots int
}

// flushAt bounds one import request.
const flushAt = 8 << 20

// NewHistory writes snapshots every step of flow time to importURL
// (VictoriaMetrics' /api/v1/import/prometheus, or vminsert's equivalent).
func (p *Pipeline) NewHistory(importURL string, step time.Duration) *History {
	return &History{p: p, url: importURL, step: step.Milliseconds(), client: &http.Client{Timeout: time.Minute}}
}

// Advance moves flow time to now (Unix ms), writing every boundary passed.
// Call it from one goroutine, with the end time of the records just processed.
func (h *History) Advance(now int64) error {
	if h.next == 0 {
		h.next = (now/h.step + 1) * h.step
		return nil
	}
	for now >= h.next {
		h.p.Tick(h.next)
		h.p.WriteMetrics(&h.buf, h.next)
		h.Snapshots++
		h.next += h.step
		if h.buf.Len() >= flushAt {
			if err := h.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close writes the last snapshot at the final flow time and sends what is queued.
func (h *History) Close(now int64) error {
	if now > 0 {
		h.p.Tick(now)
		h.p.WriteMetrics(&h.buf, now)
		h.Snapshots++
	}
	return h.flush()
}

func (h *History) flush() error {
	if h.buf.Len() == 0 {
		return nil
	}
	resp, err := h.client.Post(h.url, "text/plain", bytes.NewReader(h.buf.Bytes()))
	if err != nil {
		return fmt.Errorf("import into VictoriaMetrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("import into VictoriaMetrics: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	h.buf.Reset()
	return nil
}
