package flow

import (
	"errors"
	"net/netip"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/minewatch/minewatch/exporter/yamlcheck"
)

// Configuration is the part of the decoder an operator sets, the `flow:`
// section of the exporter's config file. Zero values pick the defaults
// (DefaultConfiguration); they bound what spoofed datagrams can hold.
type Configuration struct {
	// AllowedSources, when not empty, are the only exporter addresses whose
	// datagrams are decoded; the rest are dropped and counted under
	// source="not_allowed" (no per-address state or series).
	AllowedSources []netip.Prefix
	// MaxSources caps the exporter addresses tracked. A newcomer past the
	// cap displaces the least recently heard source (see evictLocked).
	MaxSources int
	// MaxTemplates caps the NetFlow v9 / IPFIX templates kept per exporter
	// address; templates past it are refused and counted (template_limit).
	MaxTemplates int
	// MaxTotalTemplates caps the templates of all sources together; with at
	// most 512 fields a template this bounds template memory to about 100 MB.
	// When full, a new template displaces the least recently heard source.
	MaxTotalTemplates int
	// SourceIdle: a source not heard from for this long is forgotten with its
	// templates and series. Longer than routers' template refresh (Cisco: 30 min).
	SourceIdle time.Duration
	// TemplateIdle: a template neither re-announced nor used for this long is dropped.
	TemplateIdle time.Duration
	// MaxSourceLabels caps the exporter addresses with their own source="…"
	// series; the others are counted together under source="other".
	MaxSourceLabels int
	// LogPerSecond and LogBurst bound decode-error log lines of all sources
	// together (a token bucket); lines past it are counted, not written.
	LogPerSecond float64
	LogBurst     int
	// ClockTolerance: an exporter whose export time (datagram header) is
	// further than this from the time the datagram is received has a wrong
	// clock; its records are then handled by ClockPolicy (clock.go). It
	// covers the header's one-second precision and the collector's own
	// queueing; routers kept by NTP are well within a second.
	ClockTolerance time.Duration
	// ClockPolicy says what happens to the records of such an exporter:
	// ClockCorrect moves them onto the receive clock (by the measured
	// offset), ClockRefuse drops them (counted).
	ClockPolicy string
}

// DefaultConfiguration returns the limits used for every field left at zero.
func DefaultConfiguration() Configuration {
	return Configuration{
		MaxSources:        4096,
		MaxTemplates:      256,
		MaxTotalTemplates: 16384,
		SourceIdle:        time.Hour,
		TemplateIdle:      time.Hour,
		MaxSourceLabels:   256,
		LogPerSecond:      1,
		LogBurst:          20,
		ClockTolerance:    time.Minute,
		ClockPolicy:       ClockCorrect,
	}
}

// withDefaults fills zero fields from DefaultConfiguration.
func (c Configuration) withDefaults() Configuration {
	def := DefaultConfiguration()
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&c.MaxSources, def.MaxSources)
	set(&c.MaxTemplates, def.MaxTemplates)
	set(&c.MaxTotalTemplates, def.MaxTotalTemplates)
	set(&c.MaxSourceLabels, def.MaxSourceLabels)
	set(&c.LogBurst, def.LogBurst)
	if c.SourceIdle <= 0 {
		c.SourceIdle = def.SourceIdle
	}
	if c.TemplateIdle <= 0 {
		c.TemplateIdle = def.TemplateIdle
	}
	if c.LogPerSecond <= 0 {
		c.LogPerSecond = def.LogPerSecond
	}
	if c.ClockTolerance <= 0 {
		c.ClockTolerance = def.ClockTolerance
	}
	if c.ClockPolicy == "" {
		c.ClockPolicy = def.ClockPolicy
	}
	return c
}

// Allowed says whether datagrams from addr are decoded. A link-local
// source's zone (its interface) does not matter here: prefixes have none,
// and netip.Prefix.Contains says no to every zoned address.
func (c *Configuration) Allowed(addr netip.Addr) bool {
	if len(c.AllowedSources) == 0 {
		return true
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range c.AllowedSources {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// configKeys are the keys of the `flow:` section.
var configKeys = []string{"allowed_sources", "max_sources", "max_templates_per_source", "max_templates",
	"source_idle", "template_idle", "max_source_labels", "log_lines_per_second", "log_burst", "clock_tolerance", "clock_policy"}

// DecodeYAML reads the `flow:` section (n, at field path) over c, recording
// every problem in w with its line.
func (c *Configuration) DecodeYAML(w *yamlcheck.Walker, n *yaml.Node, path string) {
	w.Fields(n, path, configKeys, func(key string, v *yaml.Node, f string) {
		if key == "allowed_sources" {
			c.AllowedSources = nil
			w.Seq(v, f, func(_ int, v *yaml.Node, f string) {
				s, ok := w.Scalar(v, f)
				if !ok {
					return
				}
				p, err := parseSourcePrefix(s)
				if err != nil {
					w.Errf(v, f, "%q is not an IP address or CIDR of an exporter (e.g. 10.0.0.1 or 10.0.0.0/24)", s)
					return
				}
				c.AllowedSources = append(c.AllowedSources, p)
			})
			return
		}
		positive := func(dst *int, min, max int) {
			if x, ok := w.Int(v, f, min, max); ok {
				*dst = x
			}
		}
		duration := func(dst *time.Duration) {
			if d, ok := w.Duration(v, f, time.Second); ok {
				*dst = d
			}
		}
		switch key {
		case "max_sources":
			positive(&c.MaxSources, 1, 1_000_000)
		case "max_templates_per_source":
			positive(&c.MaxTemplates, 1, 65535)
		case "max_templates":
			positive(&c.MaxTotalTemplates, 1, 10_000_000)
		case "max_source_labels":
			positive(&c.MaxSourceLabels, 1, 100_000)
		case "log_burst":
			positive(&c.LogBurst, 1, 100_000)
		case "source_idle":
			duration(&c.SourceIdle)
		case "template_idle":
			duration(&c.TemplateIdle)
		case "clock_tolerance":
			duration(&c.ClockTolerance)
		case "clock_policy":
			s, ok := w.Scalar(v, f)
			if !ok {
				return
			}
			if s != ClockCorrect && s != ClockRefuse {
				w.Errf(v, f, "%q is not %s or %s (move the records of an exporter with a wrong clock onto the receive clock, or drop them)", s, ClockCorrect, ClockRefuse)
				return
			}
			c.ClockPolicy = s
		case "log_lines_per_second":
			if x, ok := w.Float(v, f, 100_000, "lines a second, e.g. 1 or 0.2"); ok {
				c.LogPerSecond = x
			}
		}
	})
}

// parseSourcePrefix reads a CIDR or a single address (a /32 or /128).
func parseSourcePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a.Zone() != "" {
			return netip.Prefix{}, errors.New("zone not allowed")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}
