// Package shard holds the rule of which internal hosts one exporter owns when
// several exporters share a network (docs/scaling.md): the `shard:` section
// of the config file, a list of ledger units and/or address prefixes. A
// record whose internal host the exporter does not own is counted
// (minewatch_flow_records_outside_shard_total) and not scored, so exporters
// fed the same traffic (a UDP fan-out, or routers that see several units)
// never score one host twice.
//
// Units and prefixes rather than "hash k of n": a bureau knows which units
// each egress or router serves, routers can be told to export only those
// ranges, and a unit or prefix keeps its owner when exporters are added.
package shard

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gaissmai/bart"
	"gopkg.in/yaml.v3"

	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/exporter/yamlcheck"
)

// Configuration is the `shard:` section: the hosts this exporter owns. A
// host is owned when its unit (from the ledger) is in Units or its address
// is in Prefixes. Both empty (no section): the exporter owns every
// internal host, as a lone exporter does.
type Configuration struct {
	// Units are ledger unit ids; "unassigned" owns the internal addresses
	// outside every unit (ledger.extra_internal).
	Units []string
	// Prefixes are internal address ranges, whatever unit they belong to.
	Prefixes []netip.Prefix

	unitsAt []string // "file:line" of each unit, for errors found against the ledger
}

// DefaultConfiguration owns everything: no shard.
func DefaultConfiguration() Configuration { return Configuration{} }

// Enabled reports whether the exporter owns only part of the network.
func (c Configuration) Enabled() bool { return len(c.Units) > 0 || len(c.Prefixes) > 0 }

// configKeys are the keys of the `shard:` section.
var configKeys = []string{"units", "prefixes"}

// DecodeYAML reads the `shard:` section (n, at field path) over c,
// recording every problem in w with its line.
func (c *Configuration) DecodeYAML(w *yamlcheck.Walker, n *yaml.Node, path string) {
	n = yamlcheck.Resolve(n)
	c.Units, c.Prefixes, c.unitsAt = nil, nil, nil
	before := len(w.Errs)
	seenUnit := map[string]int{}
	seenPrefix := map[netip.Prefix]int{}
	w.Fields(n, path, configKeys, func(key string, v *yaml.Node, f string) {
		if v.Kind == yaml.ScalarNode && !yamlcheck.IsNull(v) {
			w.Errf(v, f, "must be a list ([a, b] or one \"- item\" a line)")
			return
		}
		w.Seq(v, f, func(_ int, v *yaml.Node, f string) {
			s, ok := w.Scalar(v, f)
			if !ok {
				return
			}
			switch key {
			case "units":
				if !names.ValidUnitID(s) {
					w.Errf(v, f, "%q is not a unit id: %s", s, names.UnitIDRule)
					return
				}
				if first, dup := seenUnit[s]; dup {
					w.Errf(v, f, "unit %q is listed twice (first at line %d)", s, first)
					return
				}
				seenUnit[s] = v.Line
				c.Units = append(c.Units, s)
				c.unitsAt = append(c.unitsAt, fmt.Sprintf("%s:%d: %s", w.File, v.Line, f))
			case "prefixes":
				p, err := parsePrefix(s)
				if err != nil {
					w.Errf(v, f, "%v", err)
					return
				}
				if first, dup := seenPrefix[p]; dup {
					w.Errf(v, f, "%s is listed twice (first at line %d)", p, first)
					return
				}
				seenPrefix[p] = v.Line
				c.Prefixes = append(c.Prefixes, p)
			}
		})
	})
	// A section that owns nothing would silently score nothing (or, read
	// as "no shard", everything): say so instead.
	if len(w.Errs) == before && n != nil && !yamlcheck.IsNull(n) && !c.Enabled() {
		w.Errf(n, path, "lists no units and no prefixes: this exporter would own no host (remove the section to own every internal host)")
	}
}

// parsePrefix reads a CIDR or a single address, refusing host bits (a
// typo that would own a different range than meant).
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR (e.g. 10.20.0.0/17) or an IP address", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR (e.g. 10.20.0.0/17)", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set (did you mean %s?)", s, m)
	}
	return p, nil
}

// Shard decides ownership. A nil *Shard owns every host.
type Shard struct {
	units    map[string]bool
	prefixes *bart.Lite
	outside  *metrics.Counter
	conf     Configuration
}

// New builds the rule of c; with no units and no prefixes it returns nil
// (own everything), so the pipeline pays nothing for a lone exporter.
func New(c Configuration) *Shard {
	if !c.Enabled() {
		return nil
	}
	s := &Shard{units: map[string]bool{}, prefixes: new(bart.Lite), conf: c,
		outside: metrics.GetOrCreateCounter(names.FlowRecordsOutsideShard)}
	for _, u := range c.Units {
		s.units[u] = true
	}
	for _, p := range c.Prefixes {
		s.prefixes.Insert(p)
	}
	return s
}

// Owns reports whether this exporter scores host of unit (the unit id the
// ledger gave it, or "unassigned"). A host it does not own is counted in
// minewatch_flow_records_outside_shard_total: the pipeline calls Owns once
// per record and drops the record on false.
func (s *Shard) Owns(host netip.Addr, unit string) bool {
	if s == nil || s.units[unit] || s.prefixes.Contains(host) {
		return true
	}
	s.outside.Inc()
	return false
}

// CheckUnits reports the configured units the ledger does not have (known
// says whether it has one), each with the file and line it was set at: a
// misspelt unit would otherwise leave its hosts to no exporter.
func (s *Shard) CheckUnits(known func(id string) bool) error {
	if s == nil {
		return nil
	}
	var errs []error
	for i, u := range s.conf.Units {
		if u == names.Unassigned || known(u) {
			continue
		}
		at := fmt.Sprintf("shard.units[%d]", i)
		if i < len(s.conf.unitsAt) {
			at = s.conf.unitsAt[i]
		}
		errs = append(errs, fmt.Errorf("%s: unit %q is not in the ledger: its hosts would be scored by no exporter", at, u))
	}
	return errors.Join(errs...)
}

// String describes the shard for the start-up log.
func (s *Shard) String() string {
	if s == nil {
		return "all"
	}
	parts := slices.Clone(s.conf.Units)
	for _, p := range s.conf.Prefixes {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ",")
}
