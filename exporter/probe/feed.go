package probe

import (
	"net/netip"
	"sync"
	"time"

	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/score"
)

// Submitter takes probe targets without blocking: *Component, or the eval's
// model of the prober.
type Submitter interface {
	SubmitTarget(Target) bool
}

// Feed is the one rule for what the score engine hands the prober and when,
// used by the exporter and by the eval alike. Its methods are the engine's
// callbacks (score.Config.OnSuspect, Probed and Confirmed; Hook sets them);
// none blocks.
type Feed struct {
	Store  *intel.Store
	Prober Submitter
	// NoteFor is how long a host's mining-like session to a pool domain's
	// shared address is remembered for that domain's SNI confirmation
	// (normally the prober's confirmed TTL).
	NoteFor time.Duration
	// Wait is how long, at most, the behaviour of a session whose endpoint
	// was handed to the prober waits for the answer before it makes a
	// suspect all the same (0: it does not wait). Normally twice the probe
	// timeout: once for the queue and the token bucket, once for the probe.
	Wait time.Duration
	Now  func() time.Time // the clock of NoteFor and Wait (default time.Now)

	mu      sync.Mutex
	handed  map[Target]time.Time // targets the prober took, when (kept for Wait)
	sweepAt int                  // len(handed) at which the expired ones are swept
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
		f.submit(Target{Endpoint: remote, Name: name})
	}
}

// Probed is score.Config.Probed, which the engine asks of every session that
// looks like a pool's (a Stratum profile, young and sampled or not, XMRig's
// donation visits), before the host is a suspect. An endpoint a probe refuted
// (or allowlisted) answers ProbeRefuted. Any other endpoint that a probe could
// decide is handed to the prober right then: a pool-like session is reason
// enough to ask (the prober's rate limit, cache and queue bound the cost), and
// until the answer comes, or Wait is over, it answers ProbePending, so that
// the behaviour makes no suspect before the probe has had its say: an
// ordinary server is refuted before its clients are shown as suspects, and a
// pool confirmed sooner.
//
// When the endpoint is a listed pool domain's shared (CDN) address, host is
// noted there as by Suspect: the session that made the engine ask is this
// host's own, mining-like, so the domain's SNI confirmation flags this host
// (and only the hosts so noted, never every host of the CDN address) without
// waiting for its behaviour to make it a suspect.
func (f *Feed) Probed(host netip.Addr, remote netip.AddrPort) score.ProbeState {
	set := f.Store.Current()
	if set.Allowed(remote.Addr(), remote.Port()) {
		return score.ProbeRefuted
	}
	name, ok := set.ProbeName(remote.Addr(), remote.Port())
	if name != "" {
		// Asked at every evaluation while the session lasts: the note is
		// renewed only once half of it has passed (each renewal copies the
		// store's probe decisions).
		if now := f.now(); !set.NotedUntil(host, remote).After(now.Add(f.NoteFor / 2)) {
			f.Store.Suspect(host, remote, now.Add(f.NoteFor))
		}
	}
	if !ok {
		return score.Unprobed // decided, listed, or nothing a probe could decide
	}
	t := Target{Endpoint: remote, Name: name}
	f.submit(t)
	if f.waiting(t) {
		return score.ProbePending
	}
	return score.Unprobed
}

// Confirmed is score.Config.Confirmed: the prober's confirmation of the
// endpoint as the pipeline would give it with the host's next record
// (MatchHost), so that the engine flags the host at its next evaluation
// rather than with that record. A bare confirmation holds for every host; the
// SNI confirmation of a listed domain at its shared (CDN) address only for a
// host noted there: any other host of the address gets nil (the
// confirmation is of one name, and the address serves others).
func (f *Feed) Confirmed(host netip.Addr, remote netip.AddrPort) *score.IntelHit {
	e := f.Store.Current().MatchHost(host, remote.Addr(), remote.Port())
	if e == nil || e.Shared || e.Probe == nil {
		return nil
	}
	return &score.IntelHit{Pool: e.Pool, Coin: e.Coin, Confirmed: e.Probe.How()}
}

// Hook sets the engine's callbacks to the feed's: OnSuspect, Probed and
// Confirmed (the exporter and the eval wire the prober alike).
func (f *Feed) Hook(cfg *score.Config) {
	cfg.OnSuspect, cfg.Probed, cfg.Confirmed = f.Suspect, f.Probed, f.Confirmed
}

// submit hands t to the prober, remembering when it took it.
func (f *Feed) submit(t Target) {
	if !f.Prober.SubmitTarget(t) || f.Wait <= 0 {
		return
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.handed == nil {
		f.handed = map[Target]time.Time{}
	}
	if _, ok := f.handed[t]; !ok {
		f.handed[t] = now
	}
	// The prober's queue bounds what it takes within Wait; what is older is
	// swept when the map has doubled since the last sweep.
	if len(f.handed) >= f.sweepAt {
		for k, at := range f.handed {
			if now.Sub(at) >= f.Wait {
				delete(f.handed, k)
			}
		}
		f.sweepAt = max(2*len(f.handed), 1024)
	}
}

// waiting says whether t was handed to the prober less than Wait ago (the
// caller knows it is undecided).
func (f *Feed) waiting(t Target) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	at, ok := f.handed[t]
	if ok && f.now().Sub(at) >= f.Wait {
		delete(f.handed, t)
		return false
	}
	return ok
}

func (f *Feed) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}
