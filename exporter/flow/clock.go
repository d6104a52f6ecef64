package flow

import (
	"fmt"
	"math"
	"time"
)

// Exporter clocks. NetFlow v5/v9 and IPFIX records carry times on the
// exporting device's clock; the detection engine runs on the collector's
// (live: the wall clock; replay: the capture's). A router without NTP, or
// set to the wrong zone, would put its records hours away from everyone
// else's: 30 min slow and the live engine sees nothing but stale sessions;
// days ahead and one datagram moves a replay's flow clock so far that every
// host's evidence expires. So each datagram's offset (receive time minus the
// header's export time) is measured, per exporter address, and a source
// outside Configuration.ClockTolerance has its records moved onto the
// receive clock (ClockPolicy "correct") or dropped ("refuse"). The offset is
// taken from every datagram on its own: the fix of one source never touches
// another's records, and a clock that is set right is followed at once.
//
// Independently of the header, a record that ends after the datagram that
// carries it was exported cannot be right (NetFlow v9's uptime arithmetic
// would otherwise place a record up to 24.8 days in the future): it is
// refused, past futureSlack, which covers the header's one-second precision.

// Clock policies (Configuration.ClockPolicy, YAML flow.clock_policy).
const (
	ClockCorrect = "correct"
	ClockRefuse  = "refuse"
)

// Actions of the clock check, the `action` label of minewatch_flow_clock_records_total.
const (
	ClockCorrected     = "corrected"      // moved onto the receive clock
	ClockRefusedOffset = "refused_offset" // source clock outside the tolerance, policy refuse
	ClockRefusedFuture = "refused_future" // record ends after its own export time
	ClockArrival       = "arrival_time"   // IPFIX uptime times without systemInitTimeMilliseconds: timed from arrival
)

// clockActions are the actions in the order clockFix counts them (act*).
var clockActions = [...]string{ClockCorrected, ClockRefusedOffset, ClockRefusedFuture, ClockArrival}

const (
	actCorrected = iota
	actRefusedOffset
	actRefusedFuture
	actArrival
)

// futureSlack is how far past its export time a record may end: export
// times are whole seconds, record times milliseconds.
const futureSlack = 5_000 // ms

// Clock states of a source, for the log line written when one changes.
const (
	clockOK int32 = iota
	clockOff
)

// clockFix is what one datagram's header says of its source's clock.
type clockFix struct {
	exportMs, recvMs int64
	// latest is the end past which a record is refused as from the future
	// (exportMs+futureSlack; the largest time without an export time).
	latest int64
	shift  int64 // ms added to every record time (0: clock within tolerance)
	refuse bool  // drop every record (policy refuse, clock outside tolerance)
	check  bool  // the header has an export time (0 means none)
	proto  Protocol
	// Records counted by action (index in clockActions), added to the
	// series once per datagram (flush).
	counts [len(clockActions)]int
	// Records with and without a sampling rate of their own (or from option data).
	rated, unrated bool
}

// clock measures the offset of one datagram and decides what happens to its
// records; a change of the source's state is logged once.
func (d *Decoder) clock(s *source, p Protocol, exportMs int64, recv time.Time) clockFix {
	if recv.IsZero() {
		recv = time.Now()
	}
	c := clockFix{exportMs: exportMs, recvMs: recv.UnixMilli(), latest: exportMs + futureSlack, check: exportMs > 0, proto: p}
	if !c.check {
		c.latest = math.MaxInt64 // no export time: nothing to check against
		return c
	}
	off := c.recvMs - exportMs
	s.series.Load().setClockOffset(off)
	tol := d.opts.ClockTolerance.Milliseconds()
	abs := max(off, -off)
	was := s.clockState.Load()
	state := was
	// Hysteresis: back to ok only well inside the tolerance, so a clock
	// hovering at the edge does not write a line per datagram.
	switch {
	case abs > tol:
		state = clockOff
	case abs <= tol/2:
		state = clockOK
	}
	if state == clockOff {
		if d.opts.ClockPolicy == ClockRefuse {
			c.refuse = true
		} else {
			c.shift = off
		}
	}
	// Swapped only on a change (a locked write per datagram otherwise);
	// the Swap makes sure one reader logs it.
	if state != was && s.clockState.Swap(state) != state {
		what := "records moved onto the receive clock (flow.clock_policy: correct)"
		if c.refuse {
			what = "records refused (flow.clock_policy: refuse)"
		}
		if state == clockOK {
			d.warn(s, "exporter clock back within flow.clock_tolerance (导出设备时钟恢复正常)", "protocol", p.String(),
				"offset", time.Duration(off)*time.Millisecond)
		} else {
			d.warn(s, "exporter clock outside flow.clock_tolerance (导出设备时钟偏差过大): "+what+"; set the device's NTP",
				"protocol", p.String(), "offset", time.Duration(off)*time.Millisecond, "tolerance", d.opts.ClockTolerance)
		}
	}
	return c
}

// keeps and correct check and move one record's times: a record that
// keeps fails is handed to refused; the others are corrected. Each is small
// enough to be inlined where records are emitted: a source whose clock is
// off has every record corrected, and a call per record for that (the one
// function apply this replaced) cost ~25 instructions.
//
// keeps reports whether a record is kept: not refused because its source's
// clock is off under policy refuse, nor because it ends after its datagram
// was exported.
func (c *clockFix) keeps(r *Record) bool {
	return !c.refuse && max(r.Start, r.End) <= c.latest
}

// correct moves a kept record onto the receive clock when its source's is off.
func (c *clockFix) correct(r *Record) {
	if c.shift != 0 {
		r.Start += c.shift
		r.End += c.shift
		c.counts[actCorrected]++
	}
}

// refused counts, and logs once per source, a record keeps refused.
func (c *clockFix) refused(d *Decoder, s *source, r *Record) {
	if c.refuse {
		c.counts[actRefusedOffset]++
		return
	}
	c.counts[actRefusedFuture]++
	if !s.futureLogged.Swap(true) {
		d.warn(s, "flow record ends after the datagram carrying it was exported: refused (流记录时间晚于导出时间，已丢弃)",
			"protocol", c.proto.String(), "record_end", time.UnixMilli(r.End).UTC(), "export_time", time.UnixMilli(c.exportMs).UTC())
	}
}

// flush adds the datagram's counts to the source's series and flags a
// source whose records say nothing of sampling.
func (c *clockFix) flush(d *Decoder, s *source, p Protocol) {
	if c.unrated {
		d.unannounced(s, p, d.rate(s, 0))
	} else if c.rated {
		s.announced()
	}
	if c.counts == [len(clockActions)]int{} {
		return
	}
	ss := s.series.Load()
	for i, n := range c.counts {
		if n > 0 {
			ss.clockOf(i).Add(n)
		}
	}
}

// arrival times a record whose times are relative to an uptime the
// exporter never told (IPFIX flowStart/EndSysUpTime without
// systemInitTimeMilliseconds): it ends when it arrived, and keeps its
// duration when the two uptimes give one.
func (c *clockFix) arrival(d *Decoder, s *source, p Protocol, r *Record, dur int64) {
	r.End = c.recvMs
	r.Start = c.recvMs - dur
	c.counts[actArrival]++
	if !s.arrivalLogged.Swap(true) {
		d.warn(s, "IPFIX records with uptime-relative times (fields 21/22) but no systemInitTimeMilliseconds (160) option: "+
			"timed from arrival (流记录只有相对时间，按到达时间计)", "protocol", p.String())
	}
}

// unannounced flags, once per source, an exporter whose records say nothing
// of sampling: the configured rate is used for them.
func (d *Decoder) unannounced(s *source, p Protocol, used uint32) {
	if s.unannounced.Swap(true) {
		return
	}
	s.series.Load().setUnannounced(1)
	from := "sampling.default_rate"
	if s.override > 0 {
		from = "sampling.sources"
	}
	d.warn(s, fmt.Sprintf("exporter announces no sampling rate: using 1:%d from %s (导出设备未声明采样率)", used, from),
		"protocol", p.String())
}

// announced clears the flag when a source starts announcing its rate.
func (s *source) announced() {
	if s.unannounced.Load() && s.unannounced.Swap(false) {
		s.series.Load().setUnannounced(0)
	}
}

// warn writes one line about a source within the global log budget (the
// same bucket as decode errors).
func (d *Decoder) warn(s *source, msg string, args ...any) {
	if !d.logs.Allow() {
		d.suppressed.Add(1)
		d.logsSuppressed.Inc()
		return
	}
	name := s.series.Load().name
	if s.addr.IsValid() {
		name = s.addr.String()
	}
	args = append([]any{"exporter", name}, args...)
	if n := d.suppressed.Swap(0); n > 0 {
		args = append(args, "lines_suppressed_before", n)
	}
	d.opts.Logger.Warn(msg, args...)
}
