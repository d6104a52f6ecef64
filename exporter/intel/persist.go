package intel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// What the active prober decided survives a restart in a small JSON file
// beside the state snapshot (the server names it): a confirmed pool stays
// confirmed, with its first confirmation and expiry, and a refuted server
// is not probed again until its refutation expires.

// ProbedFileName is the file's name in the exporter's state directory.
const ProbedFileName = "probed-intel.json"

const probedVersion = 1

// ErrProbedFile marks a file that cannot be read back (not JSON, another
// version, a bad endpoint): the caller keeps it aside and starts without it.
var ErrProbedFile = errors.New("probe decisions file refused")

type probedDecision struct {
	Endpoint  string    `json:"endpoint"`
	Name      string    `json:"name,omitempty"` // SNI of the deciding probe
	Confirmed bool      `json:"confirmed"`
	Protocol  string    `json:"protocol,omitempty"`
	TLS       bool      `json:"tls,omitempty"`
	Excerpt   string    `json:"excerpt,omitempty"`
	Coin      string    `json:"coin,omitempty"`
	At        time.Time `json:"at"`
	First     time.Time `json:"first,omitzero"`
	Until     time.Time `json:"until,omitzero"`
}

type probedNote struct {
	Host     string    `json:"host"`
	Endpoint string    `json:"endpoint"`
	Until    time.Time `json:"until"`
}

type probedFile struct {
	Version   int              `json:"version"`
	Saved     time.Time        `json:"saved"`
	Decisions []probedDecision `json:"decisions"`
	Suspects  []probedNote     `json:"suspects,omitempty"`
}

// SaveProbed writes the probe decisions held (and the hosts noted for a
// shared address) to path, replacing it atomically: a crash leaves the old
// file or the new one, never half of one.
func (s *Store) SaveProbed(path string) error {
	p := s.cur.Load().probed
	f := probedFile{Version: probedVersion, Saved: s.now().UTC(), Decisions: []probedDecision{}}
	if p != nil {
		for _, list := range [][]*Entry{sortedEntries(p.confirmed), sortedEntries(p.refuted)} {
			for _, e := range list {
				ev := e.Probe
				f.Decisions = append(f.Decisions, probedDecision{Endpoint: netip.AddrPortFrom(e.addr, e.port).String(), Name: ev.Name,
					Confirmed: e.Kind == KindConfirmed, Protocol: ev.Protocol, TLS: ev.TLS, Excerpt: ev.Excerpt, Coin: ev.Coin,
					At: ev.At, First: ev.First, Until: ev.Until})
			}
		}
		for k, until := range p.suspects {
			f.Suspects = append(f.Suspects, probedNote{Host: k.host.String(), Endpoint: k.ep.String(), Until: until})
		}
	}
	b, err := json.MarshalIndent(&f, "", " ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: nothing left to remove
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// sortedEntries: oldest decision first, so that the file reads as a log.
func sortedEntries(m map[probeKey]*Entry) []*Entry {
	return slices.SortedFunc(maps.Values(m), func(a, b *Entry) int { return a.Probe.At.Compare(b.Probe.At) })
}

// LoadProbed reads a file SaveProbed wrote and adds its decisions to those
// held (a decision held already is newer and stays). Decisions past their
// expiry are dropped and counted in expired; a refutation of an endpoint a
// pool list now names is dropped too (the list wins), counted in listed. Call
// it after Load, so that the lists are known. A missing file is
// fs.ErrNotExist; a file that cannot be read back wraps ErrProbedFile, and
// then nothing of it is taken.
func (s *Store) LoadProbed(path string) (kept, expired, listed int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0, err
	}
	var f probedFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return 0, 0, 0, fmt.Errorf("%w: %s: %v", ErrProbedFile, path, err)
	}
	if f.Version != probedVersion {
		return 0, 0, 0, fmt.Errorf("%w: %s: version %d, this exporter reads version %d", ErrProbedFile, path, f.Version, probedVersion)
	}
	type decision struct {
		ep        netip.AddrPort
		confirmed bool
		ev        Evidence
	}
	var ds []decision
	for i, d := range f.Decisions {
		ep, err := netip.ParseAddrPort(d.Endpoint)
		if err != nil || d.At.IsZero() {
			return 0, 0, 0, fmt.Errorf("%w: %s: decision %d: endpoint %q at %v", ErrProbedFile, path, i+1, d.Endpoint, d.At)
		}
		ds = append(ds, decision{unmapEP(ep), d.Confirmed, Evidence{At: d.At, Protocol: d.Protocol, TLS: d.TLS, Excerpt: d.Excerpt,
			Coin: d.Coin, Until: d.Until, Name: d.Name, First: d.First}})
	}
	notes := map[hostEP]time.Time{}
	for i, n := range f.Suspects {
		h, err1 := netip.ParseAddr(n.Host)
		ep, err2 := netip.ParseAddrPort(n.Endpoint)
		if err1 != nil || err2 != nil {
			return 0, 0, 0, fmt.Errorf("%w: %s: suspect %d: host %q endpoint %q", ErrProbedFile, path, i+1, n.Host, n.Endpoint)
		}
		notes[hostEP{h.Unmap(), unmapEP(ep)}] = n.Until
	}

	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.cur.Load()
	p := s.probed.clone()
	p.prune(now)
	if p.confirmed == nil {
		p.confirmed = map[probeKey]*Entry{}
	}
	if p.refuted == nil {
		p.refuted = map[probeKey]*Entry{}
	}
	for _, d := range ds {
		if !d.ev.Until.IsZero() && !d.ev.Until.After(now) {
			expired++
			continue
		}
		k := probeKey{d.ep, d.ev.Name}
		if p.confirmed[k] != nil || p.refuted[k] != nil {
			continue // decided again since
		}
		ev := d.ev
		e := &Entry{Pool: d.ep.String(), Coin: ev.Coin, Kind: KindConfirmed, Source: SourceConfirmed,
			List: ProbedList, addr: d.ep.Addr(), port: d.ep.Port(), domain: ev.Name, Probe: &ev}
		if ev.Name != "" {
			e.Pool = ev.Name + " @ " + e.Pool
		}
		if d.confirmed {
			if ev.First.IsZero() {
				ev.First = ev.At
			}
			p.confirmed[k] = e
		} else {
			if ev.Name == "" && cur.pools.match(d.ep.Addr(), d.ep.Port()) != nil {
				listed++
				continue
			}
			e.Kind, e.Source = KindRefuted, SourceRefuted
			p.refuted[k] = e
		}
		kept++
	}
	for k, until := range notes {
		if !until.After(now) {
			continue
		}
		if p.suspects == nil {
			p.suspects = map[hostEP]time.Time{}
		}
		if old, ok := p.suspects[k]; !ok || old.Before(until) {
			p.suspects[k] = until
		}
	}
	p.bound(s.opts.MaxProbed)
	p.countNamed()
	s.publishProbedLocked(p)
	return kept, expired, listed, nil
}
