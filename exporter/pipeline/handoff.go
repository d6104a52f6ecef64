package pipeline

import (
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/names"
)

// Handoff is one UDP reader's path into the pipeline in two stages on two
// goroutines (listen.split_scoring): the reader decodes each datagram and
// enriches its records (ledger, intel) into Batches; a scorer goroutine of
// its own scores each filled Batch (score.Engine.ObserveBatch) and moves the
// flow clock, then gives it back. In the profile of one busy socket the two
// halves weigh about the same (recvmmsg + decode + enrichment about half,
// ObserveBatch about half), so a second core nearly doubles what one socket
// takes, and the reader keeps reading while the scorer waits for a shard
// lock held by Evaluate or a snapshot.
//
// One scorer per reader and one FIFO queue between them: a socket's records
// are scored in the order they were read, so a session's records arrive in
// order as with the inline path (TestHandoffIsBatched). Nothing is dropped
// in user space: when every batch is in the queue the reader waits for one
// (counted in minewatch_flow_reader_waits_total), stops reading, and the
// backlog lands in the socket's buffer, where the kernel counts overflow as
// before. Batches are made once and reused (a free list): no allocation per
// datagram.
//
// A read that did not fill a batch, while the scorer is idle, is scored by
// the reader itself (Flush): the reader is keeping up, and waking the scorer
// for a few datagrams' records costs more than scoring them (a goroutine
// wake-up across cores per socket read, one datagram a read at 1 M
// records/s: handing every read over took 0.69 core there against 0.58
// inline, this rule 0.62; medians in docs/performance.md, "Reader and
// scorer"). Once the reader falls behind, reads return more datagrams,
// batches fill and go to the scorer, and the reader is back to half the
// work. Order holds: the reader scores only when every batch handed over has
// been scored.
//
// A Handoff belongs to its reader goroutine: Batched, Flush and Close are
// called from it alone.
type Handoff struct {
	p     *Pipeline
	size  int // records a batch holds
	limit int // batches there may be: the queue's bound
	made  int // batches made so far (they are made as the queue first needs them)

	cur      *Batch        // being filled by the reader, nil when none
	inflight atomic.Int32  // batches handed to the scorer and not yet scored
	full     chan *Batch   // filled batches, in order, to the scorer
	free     chan *Batch   // scored batches, back to the reader
	done     chan struct{} // closed once the scorer has scored everything and stopped
	add      func(*flow.Record)

	scoreBatch func(*Batch) // (*Batch).score; tests watch or hold the scorer
}

// Sizes of a Handoff's batches and queue, from the figures of a busy socket
// (docs/performance.md, "Reader and scorer"). A batch of 256 records is
// about ten NetFlow v9 datagrams (24 records each), 46 KiB (a 128-byte
// observation and a 56-byte pool-hit slot a record): one hand-over
// (two channel operations, perhaps a goroutine wake-up) per 256 records
// instead of one per datagram, and a recvmmsg call at full load returns tens
// of datagrams, which fill several batches. 256 batches are 65,536 records:
// 22 ms at 3 M records/s (nfcapd's rate on the benchmark machine), longer
// than a shard lock is held or a GC assist lasts, and as much again as the
// socket buffer (4 MiB of 1,200-byte datagrams: about 15 ms) holds. At most
// 11.5 MiB a socket, made only as far as the scorer falls behind.
const (
	handoffBatch = 256
	handoffLimit = 256
)

// readerWaits counts the times a reader found every batch queued for its
// scorer and waited: the scorer (score engine) is then the slower stage,
// and the socket buffer takes what arrives meanwhile.
var readerWaits = metrics.NewCounter(names.FlowReaderWaits)

// NewHandoff starts a scorer goroutine for one reader; Close stops it.
func (p *Pipeline) NewHandoff() *Handoff {
	return p.newHandoff(handoffBatch, handoffLimit, (*Batch).score)
}

func (p *Pipeline) newHandoff(size, limit int, score func(*Batch)) *Handoff {
	h := &Handoff{p: p, size: size, limit: limit, scoreBatch: score,
		// Both channels hold every batch there may be: sending never blocks,
		// so the reader waits in one place only (take).
		full: make(chan *Batch, limit), free: make(chan *Batch, limit), done: make(chan struct{})}
	// A closure rather than the method value h.Add (see newBatch).
	h.add = func(r *flow.Record) {
		if h.cur == nil {
			h.cur = h.take()
		}
		if h.cur.put(r) && h.cur.full() {
			h.send(h.cur)
			h.cur = nil
		}
	}
	go h.score()
	return h
}

// Batched runs decode with an emit that puts its records into the batch
// being filled, which goes to the scorer when full. The records wait there
// until Flush at the latest.
func (h *Handoff) Batched(decode func(emit func(*flow.Record))) { decode(h.add) }

// Add takes one record (no reference to r is kept).
func (h *Handoff) Add(r *flow.Record) { h.add(r) }

// send hands b to the scorer.
func (h *Handoff) send(b *Batch) {
	h.inflight.Add(1)
	h.full <- b
}

// Flush sees to the records taken so far: the reader calls it at the end of
// every socket read, so that at a low rate no record waits for the next
// datagram. With the scorer idle the reader scores them itself (see
// Handoff), else they follow the batches queued.
func (h *Handoff) Flush() {
	b := h.cur
	if b == nil {
		return
	}
	if b.n == 0 { // nothing to score (records of no internal host)
		b.release()
		return
	}
	if h.inflight.Load() == 0 {
		// Every batch handed over is scored (the atomic orders the
		// scorer's writes before this): scoring here keeps the order.
		h.scoreBatch(b)
		b.release()
		return // b stays the reader's, for the next read
	}
	h.cur = nil
	h.send(b)
}

// Close sees to what the reader still holds (Flush) and returns once the
// scorer has scored everything it was given and stopped. The Handoff is not used
// after.
func (h *Handoff) Close() {
	h.Flush()
	close(h.full)
	<-h.done
}

// take is an empty batch: a free one, else a new one while fewer than limit
// exist, else the next the scorer gives back.
func (h *Handoff) take() *Batch {
	select {
	case b := <-h.free:
		return b
	default:
	}
	if h.made < h.limit {
		h.made++
		return h.p.newBatch(h.size)
	}
	readerWaits.Inc()
	return <-h.free
}

// score is the scorer goroutine: the batches in the order filled, until
// Close.
func (h *Handoff) score() {
	defer close(h.done)
	for b := range h.full {
		h.scoreBatch(b)
		b.release()
		h.inflight.Add(-1)
		h.free <- b
	}
}
