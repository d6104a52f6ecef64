package probe

import (
	"net/netip"
	"time"

	"github.com/minewatch/minewatch/exporter/intel"
)

// Submitter takes probe targets without blocking: *Component, or the eval's
// model of the prober.
type Submitter interface {
	SubmitTarget(Target) bool
}

// Feed is the one rule for what the score engine hands the prober and when,
// used by the exporter and by the eval alike. Its methods are the engine's
// callbacks (score.Config.OnSuspect and Refuted); neither blocks.
type Feed struct {
	Store  *intel.Store
	Prober Submitter
	// NoteFor is how long a host's mining-like session to a pool domain's
	// shared address is remembered for that domain's SNI confirmation
	// (normally the prober's confirmed TTL).
	NoteFor time.Duration
	Now     func() time.Time // the clock of NoteFor (default time.Now)
}

// Suspect is score.Config.OnSuspect: the suspect's endpoint is probed (with
// the listed domain as SNI when it is only known as the domain's shared
// address), and for a shared address the host is noted, so that the
// domain's confirmation there flags this host and no other.
func (f *Feed) Suspect(host netip.Addr, remote netip.AddrPort) {
	set := f.Store.Current()
	name, ok := set.ProbeName(remote.Addr(), remote.Port())
	if name != "" {
		f.Store.Suspect(host, remote, f.now().Add(f.NoteFor))
	}
	if ok {
		f.Prober.SubmitTarget(Target{Endpoint: remote, Name: name})
	}
}

// Refuted is score.Config.Refuted, which the engine asks of every session
// that looks like a pool's (a Stratum profile, XMRig's donation visits),
// before the host is a suspect. An endpoint a probe refuted (or allowlisted)
// answers true. Any other endpoint that a probe could decide is handed to
// the prober right then: a pool-like session is reason enough to ask (the
// prober's rate limit, cache and queue bound the cost), and the answer then
// comes before the host's score makes it a suspect — so an ordinary server is
// refuted before its clients are shown as suspects, and a pool confirmed
// sooner. The host noting of Suspect still waits for the suspect stage.
func (f *Feed) Refuted(remote netip.AddrPort) bool {
	set := f.Store.Current()
	if set.Allowed(remote.Addr(), remote.Port()) {
		return true
	}
	if name, ok := set.ProbeName(remote.Addr(), remote.Port()); ok {
		f.Prober.SubmitTarget(Target{Endpoint: remote, Name: name})
	}
	return false
}

func (f *Feed) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}
