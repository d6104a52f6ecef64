package pipeline

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/score"
)

// TestHandoffIsBatched scores the same datagrams as TestBatchedIsProcess
// through Batched and through a Handoff (reader and scorer goroutines), and
// requires the same engine state (snapshot files byte for byte), stats and
// flow clock: records are scored in the order they were read, by whichever
// goroutine. The Handoff is flushed after every few datagrams as a reader
// does after each socket read, and run with its own sizes (short reads,
// mostly scored by the reader; long reads, batches handed over) and with
// tiny batches and queue (a batch boundary inside every datagram, the
// reader often waiting for the scorer).
func TestHandoffIsBatched(t *testing.T) {
	dgrams, _ := sameResultDatagrams(t)
	recv := time.UnixMilli(benchT0)
	run := func(h func(*Pipeline) *Handoff, read int) (*Pipeline, int) {
		p, dec := sameResultPipeline(t)
		var ho *Handoff
		if h != nil {
			ho = h(p)
		}
		n := 0
		for i, d := range dgrams {
			decode := dec.DecodeNetFlow
			if d.sflow {
				decode = dec.DecodeSFlow
			}
			if ho == nil {
				p.Batched(func(emit func(*flow.Record)) {
					decode(d.src, recv, d.packet, func(r *flow.Record) { n++; emit(r) }) //nolint:errcheck // all runs see the same errors
				})
				continue
			}
			ho.Batched(func(emit func(*flow.Record)) {
				decode(d.src, recv, d.packet, func(r *flow.Record) { n++; emit(r) }) //nolint:errcheck // all runs see the same errors
			})
			if i%read == read-1 { // the end of a socket read
				ho.Flush()
			}
		}
		if ho != nil {
			ho.Close()
		}
		return p, n
	}
	want, n := run(nil, 1)
	wantSnap := snapshotBytes(t, want)
	for _, c := range []struct {
		name              string
		size, limit, read int
	}{
		{"default_reads_of_7", handoffBatch, handoffLimit, 7},   // mostly scored by the reader (the scorer idle)
		{"default_reads_of_50", handoffBatch, handoffLimit, 50}, // batches filled and handed over
		{"tiny", 5, 2, 7},
	} {
		t.Run(c.name, func(t *testing.T) {
			waits := readerWaits.Get()
			got, gn := run(func(p *Pipeline) *Handoff { return p.newHandoff(c.size, c.limit, (*Batch).score) }, c.read)
			if gn != n {
				t.Fatalf("records decoded: %d batched, %d handed off", n, gn)
			}
			if want.LastFlow() != got.LastFlow() {
				t.Fatalf("flow clock: %d batched, %d handed off", want.LastFlow(), got.LastFlow())
			}
			if ws, gs := want.Engine().Stats(), got.Engine().Stats(); ws != gs {
				t.Fatalf("stats: %+v batched, %+v handed off", ws, gs)
			}
			if b := snapshotBytes(t, got); !bytes.Equal(wantSnap, b) {
				t.Fatalf("snapshots differ (%d and %d bytes)", len(wantSnap), len(b))
			}
			t.Logf("%d records; the reader waited %d times", n, int(readerWaits.Get()-waits))
		})
	}
}

// scoreLog is a scorer that notes the records it scores (their Start, a
// sequence number in these tests) before scoring them, and can be held.
type scoreLog struct {
	mu      sync.Mutex
	starts  []int64
	batches int
	hold    chan struct{} // while open (not closed), the scorer waits on it before each batch
}

func (l *scoreLog) score(b *Batch) {
	if l.hold != nil {
		<-l.hold
	}
	l.mu.Lock()
	for _, o := range b.obs[:b.n] {
		l.starts = append(l.starts, o.Start)
	}
	l.batches++
	l.mu.Unlock()
	b.score()
}

func (l *scoreLog) scored() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.starts)
}

// inOrder fails unless exactly the records 0…n-1 were scored, in that order.
func (l *scoreLog) inOrder(t *testing.T, n int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.starts) != n {
		t.Fatalf("%d records scored, want %d", len(l.starts), n)
	}
	for i, s := range l.starts {
		if s != int64(i) {
			t.Fatalf("record %d scored in place %d (%v…)", s, i, l.starts[max(0, i-3):min(len(l.starts), i+3)])
		}
	}
}

// seqRecord is record i of a session: Start is its sequence number.
func seqRecord(i int) *flow.Record {
	return &flow.Record{Src: netip.MustParseAddr("10.1.2.3"), Dst: netip.MustParseAddr("192.0.2.9"), SrcPort: 40000, DstPort: 443,
		Proto: 6, Packets: 2, Bytes: 200, SamplingRate: 1, Start: int64(i), End: int64(i) + 1}
}

// waitFor waits (up to a minute: an event, not a speed) until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after a minute", what)
		}
	}
}

// TestHandoffOrderAcrossReads: records added over many reads of uneven
// sizes (0–36 records, batches of 16: some reads scored by the reader, some
// handed over in batches, some both) are scored exactly once each in the
// order added; a read's records are scored without waiting for the next
// read (Flush), and Close returns once all are scored.
func TestHandoffOrderAcrossReads(t *testing.T) {
	p := newTestPipeline(t)
	log := &scoreLog{}
	h := p.newHandoff(16, 4, log.score)
	n := 0
	for read := range 200 {
		for range read % 37 {
			h.Add(seqRecord(n))
			n++
		}
		h.Flush()
		if read%50 == 49 { // a quiet moment: this read's records reach the scorer by themselves
			want := n
			waitFor(t, "a flushed read to be scored", func() bool { return log.scored() == want })
		}
	}
	h.Close()
	log.inOrder(t, n)
	if st := p.Engine().Stats(); st.Hosts != 1 {
		t.Fatalf("engine: %+v, want the one host", st)
	}
}

// TestHandoffScoresShortReadsInPlace: a read that fills no batch, with the
// scorer idle, is scored by the reader before Flush returns (no wake-up of
// the scorer); with a batch still queued it goes to the scorer after it.
func TestHandoffScoresShortReadsInPlace(t *testing.T) {
	p := newTestPipeline(t)
	log := &scoreLog{}
	h := p.newHandoff(16, 4, log.score)
	for i := range 5 {
		h.Add(seqRecord(i))
	}
	h.Flush()
	if n := log.scored(); n != 5 || h.made != 1 {
		t.Fatalf("%d records scored when Flush returned (%d batches made), want all 5 by the reader", n, h.made)
	}
	log.hold = make(chan struct{}) // (the scorer has not run: no race on hold)
	for i := 5; i < 5+16+3; i++ {  // a full batch, held at the scorer, and 3 more
		h.Add(seqRecord(i))
	}
	waitFor(t, "the full batch to reach the scorer", func() bool { return len(h.full) == 0 && h.inflight.Load() == 1 })
	h.Flush() // the 3 must wait for the 16 before them
	if n := log.scored(); n != 5 {
		t.Fatalf("%d records scored, want the first 5 only while the scorer is held", n)
	}
	close(log.hold)
	h.Close()
	log.inOrder(t, 5+16+3)
}

// TestHandoffBackPressure: with the scorer held and every batch queued, the
// reader waits for a batch (counted), takes nothing more meanwhile, and
// goes on once the scorer is let go; no record is lost or reordered.
func TestHandoffBackPressure(t *testing.T) {
	const size, limit, n = 4, 3, 100
	p := newTestPipeline(t)
	log := &scoreLog{hold: make(chan struct{})}
	h := p.newHandoff(size, limit, log.score)
	waits := readerWaits.Get()
	var (
		mu    sync.Mutex
		added int
		done  = make(chan struct{})
	)
	go func() { // the reader
		defer close(done)
		for i := range n {
			h.Add(seqRecord(i))
			mu.Lock()
			added++
			mu.Unlock()
		}
		h.Close()
	}()
	waitFor(t, "the reader to wait for a batch", func() bool { return readerWaits.Get() > waits })
	mu.Lock()
	got := added
	mu.Unlock()
	// Every batch full (the scorer holds the first, the queue the others)
	// and the reader in Add for the next record: it took exactly these.
	if got != size*limit {
		t.Fatalf("the reader took %d records before waiting, want %d (%d batches of %d)", got, size*limit, limit, size)
	}
	if s := log.scored(); s != 0 {
		t.Fatalf("%d records scored while the scorer was held", s)
	}
	close(log.hold)
	<-done
	log.inOrder(t, n)
	if readerWaits.Get() == waits {
		t.Fatal("no wait counted")
	}
}

// TestHandoffDrainsOnClose: Close, called while the scorer is held with
// batches queued and records not yet flushed, returns only once all of
// them are scored.
func TestHandoffDrainsOnClose(t *testing.T) {
	const size, limit = 8, 16
	p := newTestPipeline(t)
	log := &scoreLog{hold: make(chan struct{})}
	h := p.newHandoff(size, limit, log.score)
	n := size*(limit-2) + 3 // the last 3 still in the reader's batch at Close
	for i := range n {
		h.Add(seqRecord(i))
	}
	closed := make(chan struct{})
	go func() { h.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while the scorer was held")
	default:
	}
	close(log.hold)
	<-closed
	log.inOrder(t, n)
	if p.LastFlow() != int64(n) {
		t.Fatalf("flow clock %d after Close, want %d (the last record's end)", p.LastFlow(), n)
	}
}

// TestHandoffAllocations: handing a datagram's records to the scorer
// allocates no more than scoring them in place (Batched): batches are made
// once, up to the queue's bound, and reused. (A new batch is 3 allocations;
// 500 datagrams of 24 records fill at most 47 batches, and 16 reads end with
// one part-filled: under 200 allocations even if every hand-over needed a
// new batch, below one a datagram.)
func TestHandoffAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race sync.Pool (Batched, the comparison) drops pooled batches at random: allocation counts mean nothing")
	}
	p := newTestPipeline(t)
	dec := flow.NewDecoder(flow.Options{Metrics: metrics.NewSet()})
	src := netip.MustParseAddrPort("10.20.255.1:2055")
	now := time.UnixMilli(benchT0)
	dgrams := benchDatagrams(flow.NetFlowV9)
	for _, d := range dgrams { // templates, and every host tracked
		p.Batched(func(emit func(*flow.Record)) { dec.DecodeNetFlow(src, now, d, emit) }) //nolint:errcheck // checked below
	}
	var plain [][]byte // datagrams with no pool record (those: TestPoolRecordsAllocateNothing)
	for _, d := range dgrams {
		pool := false
		dec.DecodeNetFlow(src, now, d, func(r *flow.Record) { pool = pool || r.DstPort == 3333 || r.SrcPort == 3333 }) //nolint:errcheck // checked below
		if !pool && len(plain) < 50 {
			plain = append(plain, d)
		}
	}
	if len(plain) < 50 {
		t.Fatalf("test premise: %d datagrams without a pool record", len(plain))
	}
	i := 0
	var err error
	inPlace := testing.AllocsPerRun(500, func() {
		d := plain[i%len(plain)]
		p.Batched(func(emit func(*flow.Record)) { err = dec.DecodeNetFlow(src, now, d, emit) })
		i++
	})
	if err != nil {
		t.Fatal(err)
	}
	h := p.NewHandoff()
	defer h.Close()
	for range 4 { // the first batches made
		for _, d := range plain {
			h.Batched(func(emit func(*flow.Record)) { dec.DecodeNetFlow(src, now, d, emit) }) //nolint:errcheck // checked above
		}
		h.Flush()
	}
	h.Flush()
	waitFor(t, "the scorer to catch up", func() bool { return h.inflight.Load() == 0 })
	made0 := h.made
	handed := testing.AllocsPerRun(500, func() {
		d := plain[i%len(plain)]
		h.Batched(func(emit func(*flow.Record)) { err = dec.DecodeNetFlow(src, now, d, emit) })
		if i++; i%32 == 0 { // a socket read of 32 datagrams: batches fill and go to the scorer
			h.Flush()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("allocations per datagram: %.2f in place, %.2f handed off; batches made %d then %d (at most %d)", inPlace, handed, made0, h.made, handoffLimit)
	if h.made < 2 {
		t.Fatalf("test premise: %d batches made, so none was handed over", h.made)
	}
	if handed > inPlace {
		t.Fatalf("a Handoff allocates %.2f per datagram, Batched %.2f", handed, inPlace)
	}
	if h.made > handoffLimit {
		t.Fatalf("%d batches made, over the bound %d", h.made, handoffLimit)
	}
}

// TestPoolRecordsAllocateNothing: a record whose remote end is a listed
// pool takes its score.IntelHit from the batch slot's own storage, so
// datagrams full of pool records allocate nothing either (a new IntelHit
// per pool record was 2 % of the exporter's CPU at full load).
func TestPoolRecordsAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race sync.Pool (Batched) drops pooled batches at random: allocation counts mean nothing")
	}
	p := newTestPipeline(t)
	dec := flow.NewDecoder(flow.Options{Metrics: metrics.NewSet()})
	src := netip.MustParseAddrPort("10.20.255.1:2055")
	now := time.UnixMilli(benchT0)
	dgrams := benchDatagrams(flow.NetFlowV9)
	for _, d := range dgrams { // templates, and every host and pool session tracked
		p.Batched(func(emit func(*flow.Record)) { dec.DecodeNetFlow(src, now, d, emit) }) //nolint:errcheck // checked below
	}
	var pooled [][]byte // datagrams with at least one record to or from the pool
	hits := 0
	for _, d := range dgrams {
		n := 0
		dec.DecodeNetFlow(src, now, d, func(r *flow.Record) { //nolint:errcheck // checked below
			var o score.Observation
			if p.observe(p.ledger.Load(), p.intelSet(), r, &o, new(score.IntelHit)) && o.Intel != nil {
				n++
			}
		})
		if n > 0 && len(pooled) < 50 {
			pooled, hits = append(pooled, d), hits+n
		}
	}
	if len(pooled) < 50 {
		t.Fatalf("test premise: %d datagrams with a pool hit", len(pooled))
	}
	i := 0
	var err error
	inPlace := testing.AllocsPerRun(500, func() {
		p.Batched(func(emit func(*flow.Record)) { err = dec.DecodeNetFlow(src, now, pooled[i%len(pooled)], emit) })
		i++
	})
	if err != nil {
		t.Fatal(err)
	}
	h := p.NewHandoff()
	defer h.Close()
	for range 4 { // the first batches made
		for _, d := range pooled {
			h.Batched(func(emit func(*flow.Record)) { dec.DecodeNetFlow(src, now, d, emit) }) //nolint:errcheck // checked above
		}
		h.Flush()
	}
	h.Flush()
	waitFor(t, "the scorer to catch up", func() bool { return h.inflight.Load() == 0 })
	handed := testing.AllocsPerRun(500, func() {
		h.Batched(func(emit func(*flow.Record)) { err = dec.DecodeNetFlow(src, now, pooled[i%len(pooled)], emit) })
		if i++; i%32 == 0 {
			h.Flush()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d pool hits in %d datagrams; allocations per datagram: %.2f in place, %.2f handed off", hits, len(pooled), inPlace, handed)
	if inPlace != 0 || handed != 0 {
		t.Fatalf("datagrams with pool records allocate: %.2f per datagram in place, %.2f handed off", inPlace, handed)
	}
}
