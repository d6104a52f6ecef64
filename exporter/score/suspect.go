package score

import (
	"net/netip"
	"sync/atomic"
)

// SuspectQueue carries suspects' endpoints from the engine to the active
// prober: a bounded channel whose Offer never blocks. Set Config.OnSuspect to
// its Offer and let the prober receive from C. When the prober falls behind,
// the queue drops what does not fit (Dropped counts it); the engine hands the
// endpoint over again after suspectReask while the host is still a suspect,
// so nothing is lost for good and the engine never waits.
type SuspectQueue struct {
	C       chan Suspicion
	dropped atomic.Uint64
}

// NewSuspectQueue returns a queue holding at most n endpoints (at least 1).
func NewSuspectQueue(n int) *SuspectQueue {
	return &SuspectQueue{C: make(chan Suspicion, max(n, 1))}
}

// Offer queues one endpoint, or drops it when the queue is full.
func (q *SuspectQueue) Offer(host netip.Addr, remote netip.AddrPort) {
	select {
	case q.C <- Suspicion{Host: host, Remote: remote}:
	default:
		q.dropped.Add(1)
	}
}

// Dropped is how many endpoints did not fit.
func (q *SuspectQueue) Dropped() uint64 { return q.dropped.Load() }
