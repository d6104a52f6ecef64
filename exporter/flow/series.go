package flow

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/names"
)

// Shared source label values: every address without series of its own is
// counted under one of these, so spoofed addresses cannot add series.
const (
	sourceOther      = "other"       // past MaxSourceLabels
	sourceNotAllowed = "not_allowed" // outside Configuration.AllowedSources
)

// discard takes the counts of series already unregistered (an expired
// source's datagram still in flight) so they are not registered again.
var discard = metrics.NewSet().NewCounter("discarded_by_cap")

// sourceSeries are the per-source series of one source label value. They are
// created on first use (a v9 router has no sflow_v5 series) and, when owned
// by one source, unregistered with it.
type sourceSeries struct {
	name string
	own  bool
	set  *metrics.Set

	packets, records [SFlowV5 + 1]atomic.Pointer[metrics.Counter]
	clocks           [len(clockActions)]atomic.Pointer[metrics.Counter]
	tplGauge         atomic.Pointer[metrics.Gauge]
	offGauge, unann  atomic.Pointer[metrics.Gauge]

	mu    sync.Mutex
	dead  bool
	errs  map[string]*metrics.Counter // protocol+"/"+reason
	names []string                    // registered, for unregister
}

func newSeries(set *metrics.Set, name string, own bool) *sourceSeries {
	return &sourceSeries{name: name, own: own, set: set, errs: map[string]*metrics.Counter{}}
}

// counter returns (creating on first use) the counter in slot c.
func (ss *sourceSeries) counter(c *atomic.Pointer[metrics.Counter], name func() string) *metrics.Counter {
	if v := c.Load(); v != nil {
		return v
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.dead {
		return discard
	}
	if v := c.Load(); v != nil {
		return v
	}
	n := name()
	v := ss.set.GetOrCreateCounter(n)
	ss.names = append(ss.names, n)
	c.Store(v)
	return v
}

func (ss *sourceSeries) packetsOf(p Protocol) *metrics.Counter {
	return ss.counter(&ss.packets[p], func() string {
		return fmt.Sprintf(`%s{source=%q,protocol=%q}`, names.FlowPackets, ss.name, p)
	})
}

func (ss *sourceSeries) recordsOf(p Protocol) *metrics.Counter {
	return ss.counter(&ss.records[p], func() string {
		return fmt.Sprintf(`%s{source=%q,protocol=%q}`, names.FlowRecords, ss.name, p)
	})
}

// addRecords counts n records (none: no series is created).
func (ss *sourceSeries) addRecords(p Protocol, n int) {
	if n > 0 {
		ss.recordsOf(p).Add(n)
	}
}

func (ss *sourceSeries) errorsOf(p Protocol, reason string) *metrics.Counter {
	key := p.String() + "/" + reason
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.dead {
		return discard
	}
	c := ss.errs[key]
	if c == nil {
		n := fmt.Sprintf(`%s{source=%q,protocol=%q,reason=%q}`, names.FlowDecodeErrors, ss.name, p, reason)
		c = ss.set.GetOrCreateCounter(n)
		ss.names = append(ss.names, n)
		ss.errs[key] = c
	}
	return c
}

// clockOf counts records by what the clock check did to them (clock.go):
// action i of clockActions, found without a lock once created.
func (ss *sourceSeries) clockOf(i int) *metrics.Counter {
	return ss.counter(&ss.clocks[i], func() string {
		return fmt.Sprintf(`%s{source=%q,action=%q}`, names.FlowClockRecords, ss.name, clockActions[i])
	})
}

// gauge publishes one per-source gauge; shared label values have none (a
// value of changing sources would mean nothing).
func (ss *sourceSeries) gauge(slot *atomic.Pointer[metrics.Gauge], metric string, v float64) {
	if !ss.own {
		return
	}
	g := slot.Load()
	if g == nil {
		ss.mu.Lock()
		if ss.dead {
			ss.mu.Unlock()
			return
		}
		if g = slot.Load(); g == nil {
			name := fmt.Sprintf(`%s{source=%q}`, metric, ss.name)
			g = ss.set.GetOrCreateGauge(name, nil)
			ss.names = append(ss.names, name)
			slot.Store(g)
		}
		ss.mu.Unlock()
	}
	g.Set(v)
}

// setTemplates publishes a source's template count.
func (ss *sourceSeries) setTemplates(n int) { ss.gauge(&ss.tplGauge, names.FlowTemplates, float64(n)) }

// setClockOffset publishes the latest clock offset of a source (ms in, seconds out).
func (ss *sourceSeries) setClockOffset(ms int64) {
	ss.gauge(&ss.offGauge, names.FlowClockOffset, float64(ms)/1000)
}

// setUnannounced publishes whether a source's records lack a sampling rate.
func (ss *sourceSeries) setUnannounced(v float64) {
	ss.gauge(&ss.unann, names.FlowSamplingUnannounced, v)
}

// unregister deletes every series of this label value from the set.
func (ss *sourceSeries) unregister() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.dead = true
	for _, n := range ss.names {
		ss.set.UnregisterMetric(n)
	}
	ss.names = nil
}
