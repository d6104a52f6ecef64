// Package config reads and checks the exporter's one YAML configuration file.
// Every problem is reported at once, each naming the file, the line and the
// field, so an operator fixes the file in one pass.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/listen"
	"github.com/minewatch/minewatch/exporter/logging"
	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/exporter/probe"
	"github.com/minewatch/minewatch/exporter/push"
	"github.com/minewatch/minewatch/exporter/score"
	"github.com/minewatch/minewatch/exporter/shard"
	"github.com/minewatch/minewatch/exporter/yamlcheck"
)

// Config is the exporter's configuration. Defaults come from Default; the
// file overrides them; flags may override fields afterwards, then Validate.
//
// Each section is owned by the component it configures (its Configuration
// and DefaultConfiguration live there, akvorado-style), so every default is
// written once; this package only reads the file into them and checks it.
type Config struct {
	Listen   listen.Configuration
	Ledger   ledger.Configuration
	Intel    intel.Configuration
	Sampling Sampling
	Detect   Detect
	Snapshot score.SnapshotConfig // owned by the score engine: what survives a restart
	Metrics  Metrics
	Cases    Cases
	Push     push.Configuration
	Log      logging.Configuration
	Flow     flow.Configuration  // flow: limits against spoofed exporters, allowed sources, clocks
	Probe    probe.Configuration // probe: the active Stratum prober (off by default)
	Shard    shard.Configuration // shard: the hosts this exporter owns when several share a network (default: all)

	file   string
	lines  map[string]int // field path → line in the file
	loaded *Config        // the values as read, to tell file values from flag overrides
}

// Sampling gives the 1:N sampling rate of exporters that do not send it.
type Sampling struct {
	DefaultRate uint32
	Sources     []SamplingSource
}

// SamplingSource is the rate of one exporter, by its source address.
type SamplingSource struct {
	Source netip.Addr
	Rate   uint32

	field string // where the file set it, for messages
	line  int
}

// detectDefaults are the score engine's own defaults (score.DefaultConfig),
// in the file's whole-number points: one default per value.
func detectDefaults() Detect {
	d := score.DefaultConfig()
	return Detect{Threshold: int(d.Threshold), SuspectThreshold: int(d.SuspectAt), Floor: int(d.Floor), MaxHosts: d.MaxHosts, Window: d.Window, QuietAfter: d.QuietAfter}
}

// Detect tunes scoring: the file's form of score.Config (server.DetectConfig
// maps it).
type Detect struct {
	Threshold int // score at or above which a host is flagged (with a listed or confirmed pool)
	// SuspectThreshold: live mining-like behaviour scoring at least this
	// makes a host a suspect (可疑): shown, probed, never counted or emailed.
	SuspectThreshold int
	Floor            int           // score at or above which a host gets per-host series
	MaxHosts         int           // hard cap on hosts held in state
	Window           time.Duration // how far back evidence counts
	QuietAfter       time.Duration // no mining for this long: the host counts as quiet
}

// Metrics sets what the metrics carry.
type Metrics struct {
	// PersonalLabels puts the asset ledger's name, location, department and
	// owner on minewatch_host_info. Off by default: personal data stays in
	// the ledger, and the plugin joins it from there.
	PersonalLabels bool
}

// Cases names the case store whose dispositions the exporter serves as
// minewatch_case_disposition gauges, the read-only view vmalert needs to
// judge deadlines (the store stays the record; see docs/metrics.md). Set it
// on one exporter only: the one beside the bureau's Grafana.
type Cases struct {
	Store string // SQLite file (must exist) or postgres:// URL
}

// Default returns the configuration used for everything the file leaves out.
func Default() *Config {
	return &Config{
		Listen:   listen.DefaultConfiguration(),
		Intel:    intel.DefaultConfiguration(),
		Sampling: Sampling{DefaultRate: flow.DefaultSamplingRate},
		Detect:   detectDefaults(),
		Snapshot: score.DefaultSnapshotConfig(),
		Push:     push.DefaultConfiguration(),
		Log:      logging.DefaultConfiguration(),
		Probe:    probe.DefaultConfiguration(),
		Shard:    shard.DefaultConfiguration(),
	}
}

// Load reads a configuration file over the defaults and validates it.
// Relative paths in the file (ledger, intel) are taken relative to the
// file's directory, so a config and its lists can move together.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, perr := Parse(path, data)
	if c == nil {
		return nil, perr // not YAML at all
	}
	base := filepath.Dir(path)
	for _, list := range []*[]string{&c.Ledger.Files, &c.Intel.Files, &c.Intel.Allowlist} {
		for i, p := range *list {
			if p != "" && !filepath.IsAbs(p) {
				(*list)[i] = filepath.Join(base, p)
			}
		}
	}
	for _, p := range []*string{&c.Snapshot.File, &c.Listen.WebConfigFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	if st := c.Cases.Store; st != "" && !strings.Contains(st, "://") && !filepath.IsAbs(st) {
		c.Cases.Store = filepath.Join(base, st) // a SQLite path; URLs stay as they are
	}
	c.snapshot()
	// Values that did not parse kept their defaults, so Validate adds only
	// the other problems: the operator sees all of them at once.
	if err := errors.Join(perr, c.Validate()); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse reads a configuration from YAML text over the defaults without
// resolving paths or validating ranges (Load does both). name is used in
// error messages. On a syntax error it returns a nil Config; on bad values it
// returns the Config (bad values left at their defaults) with the errors.
func Parse(name string, data []byte) (*Config, error) {
	c := Default()
	c.file = name
	c.lines = map[string]int{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlSyntaxError(name, err)
	}
	w := walker{&yamlcheck.Walker{File: name, Lines: c.lines}}
	if len(doc.Content) > 0 {
		c.decode(w, doc.Content[0])
	}
	c.snapshot()
	if len(w.Errs) > 0 {
		return c, errors.Join(w.Errs...) // c: defaults where values were bad
	}
	return c, nil
}

func (c *Config) snapshot() {
	cp := *c
	cp.Ledger.Files = slices.Clone(c.Ledger.Files)
	cp.Ledger.ExtraInternal = slices.Clone(c.Ledger.ExtraInternal)
	cp.Intel.Files = slices.Clone(c.Intel.Files)
	cp.Intel.Allowlist = slices.Clone(c.Intel.Allowlist)
	cp.Sampling.Sources = slices.Clone(c.Sampling.Sources)
	cp.Probe.TLSPorts = slices.Clone(c.Probe.TLSPorts)
	if c.Push.ExtraLabels != nil {
		cp.Push.ExtraLabels = map[string]string{}
		for k, v := range c.Push.ExtraLabels {
			cp.Push.ExtraLabels[k] = v
		}
	}
	cp.loaded = nil
	c.loaded = &cp
}

func (c *Config) decode(w walker, root *yaml.Node) {
	w.fields(root, "", []string{"listen", "ledger", "intel", "sampling", "detect", "snapshot", "metrics", "cases", "push", "log", "flow", "probe", "shard"}, func(key string, v *yaml.Node, f string) {
		switch key {
		case "shard":
			c.Shard.DecodeYAML(w.Walker, v, f)
		case "flow":
			c.Flow.DecodeYAML(w.Walker, v, f)
		case "probe":
			c.Probe.DecodeYAML(w.Walker, v, f)
		case "listen":
			w.fields(v, f, []string{"netflow", "sflow", "http", "web_config_file", "pprof", "readers", "split_scoring"}, func(key string, v *yaml.Node, f string) {
				switch key {
				case "web_config_file":
					w.str(v, f, &c.Listen.WebConfigFile)
				case "pprof":
					w.boolean(v, f, &c.Listen.Pprof)
				case "netflow":
					w.str(v, f, &c.Listen.NetFlow)
				case "sflow":
					w.str(v, f, &c.Listen.SFlow)
				case "http":
					w.str(v, f, &c.Listen.HTTP)
				case "readers":
					w.integer(v, f, &c.Listen.Readers)
				case "split_scoring":
					w.boolean(v, f, &c.Listen.SplitScoring)
				}
			})
		case "ledger":
			w.fields(v, f, []string{"files", "extra_internal", "allow_empty"}, func(key string, v *yaml.Node, f string) {
				switch key {
				case "files":
					w.strings(v, f, &c.Ledger.Files)
				case "allow_empty":
					w.boolean(v, f, &c.Ledger.AllowEmpty)
				case "extra_internal":
					c.Ledger.ExtraInternal = nil
					w.seq(v, f, func(n *yaml.Node, f string) {
						var s string
						if !w.str(n, f, &s) {
							return
						}
						p, err := parsePrefix(s)
						if err != nil {
							w.errf(n, f, "%v", err)
							return
						}
						c.Ledger.ExtraInternal = append(c.Ledger.ExtraInternal, p)
					})
				}
			})
		case "intel":
			w.fields(v, f, []string{"files", "allowlist", "resolve_interval", "dns_server"}, func(key string, v *yaml.Node, f string) {
				switch key {
				case "files":
					w.strings(v, f, &c.Intel.Files)
				case "allowlist":
					w.strings(v, f, &c.Intel.Allowlist)
				case "resolve_interval":
					w.duration(v, f, &c.Intel.ResolveInterval)
				case "dns_server":
					w.str(v, f, &c.Intel.DNSServer)
				}
			})
		case "sampling":
			w.fields(v, f, []string{"default_rate", "sources"}, func(key string, v *yaml.Node, f string) {
				switch key {
				case "default_rate":
					w.uint32(v, f, &c.Sampling.DefaultRate)
				case "sources":
					c.Sampling.Sources = nil
					w.seq(v, f, func(n *yaml.Node, f string) {
						s := SamplingSource{}
						var haveSource, haveRate bool
						w.fields(n, f, []string{"source", "rate"}, func(key string, v *yaml.Node, f string) {
							switch key {
							case "source":
								var txt string
								if w.str(v, f, &txt) {
									a, err := netip.ParseAddr(txt)
									if err != nil || a.Zone() != "" {
										w.errf(v, f, "%q is not an IP address (the exporter's source address)", txt)
										return
									}
									s.Source, haveSource = a.Unmap(), true
								}
							case "rate":
								haveRate = w.uint32(v, f, &s.Rate)
							}
						})
						if n.Kind == yaml.MappingNode && (!haveSource || !haveRate) {
							if !haveSource && w.Lines[f+".source"] == 0 {
								w.errf(n, f+".source", "missing: the exporter's source IP")
							}
							if !haveRate && w.Lines[f+".rate"] == 0 {
								w.errf(n, f+".rate", "missing: the 1:N sampling rate")
							}
							return
						}
						if haveSource && haveRate {
							s.field, s.line = f, n.Line
							c.Sampling.Sources = append(c.Sampling.Sources, s)
						}
					})
				}
			})
		case "detect":
			w.fields(v, f, []string{"threshold", "suspect_threshold", "floor", "max_hosts", "window", "quiet_after"}, func(key string, v *yaml.Node, f string) {
				switch key {
				case "threshold":
					w.integer(v, f, &c.Detect.Threshold)
				case "suspect_threshold":
					w.integer(v, f, &c.Detect.SuspectThreshold)
				case "floor":
					w.integer(v, f, &c.Detect.Floor)
				case "max_hosts":
					w.integer(v, f, &c.Detect.MaxHosts)
				case "window":
					w.duration(v, f, &c.Detect.Window)
				case "quiet_after":
					w.duration(v, f, &c.Detect.QuietAfter)
				}
			})
		case "cases":
			w.fields(v, f, []string{"store"}, func(key string, v *yaml.Node, f string) {
				w.str(v, f, &c.Cases.Store)
			})
		case "metrics":
			w.fields(v, f, []string{"personal_labels"}, func(key string, v *yaml.Node, f string) {
				w.boolean(v, f, &c.Metrics.PersonalLabels)
			})
		case "snapshot":
			w.fields(v, f, []string{"file", "interval"}, func(key string, v *yaml.Node, f string) {
				switch key {
				case "file":
					w.str(v, f, &c.Snapshot.File)
				case "interval":
					w.duration(v, f, &c.Snapshot.Interval)
				}
			})
		case "push":
			w.fields(v, f, []string{"url", "interval", "extra_labels", "instance"}, func(key string, v *yaml.Node, f string) {
				switch key {
				case "instance":
					w.str(v, f, &c.Push.Instance)
				case "url":
					w.str(v, f, &c.Push.URL)
				case "interval":
					w.duration(v, f, &c.Push.Interval)
				case "extra_labels":
					c.Push.ExtraLabels = map[string]string{}
					w.mapping(v, f, func(k string, v *yaml.Node, f string) {
						var s string
						if w.str(v, f, &s) {
							c.Push.ExtraLabels[k] = s
						}
					})
				}
			})
		case "log":
			w.fields(v, f, []string{"level", "format"}, func(key string, v *yaml.Node, f string) {
				switch key {
				case "level":
					w.str(v, f, &c.Log.Level)
				case "format":
					w.str(v, f, &c.Log.Format)
				}
			})
		}
	})
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// reservedLabels are set by the exporter itself on its series.
var reservedLabels = names.Labels()

// Validate checks every value, including fields set by flags after Load.
// Errors about values that came from the file name its line; values changed
// since (flags) or left at their defaults are named by field only.
func (c *Config) Validate() error {
	v := &validator{c: c}
	l := c.Listen
	lo := v.orig().Listen
	for _, a := range []struct {
		field    string
		cur, org string
	}{{"listen.netflow", l.NetFlow, lo.NetFlow}, {"listen.sflow", l.SFlow, lo.SFlow}, {"listen.http", l.HTTP, lo.HTTP}} {
		if a.cur == "" {
			continue // disabled
		}
		if err := checkListen(a.cur); err != nil {
			v.errf(a.field, a.cur, a.org, "%v", err)
		}
	}
	if l.NetFlow != "" && l.NetFlow == l.SFlow {
		v.errf("listen.sflow", l.SFlow, lo.SFlow, "%q is also listen.netflow: NetFlow and sFlow need separate UDP ports", l.SFlow)
	}
	if l.Readers < 1 || l.Readers > 256 {
		v.errf("listen.readers", l.Readers, lo.Readers, "%d is outside 1..256", l.Readers)
	}

	if len(c.Ledger.Files) == 0 && len(c.Ledger.ExtraInternal) == 0 {
		v.errf("ledger.files", len(c.Ledger.Files), len(v.orig().Ledger.Files),
			"no ledger files and no ledger.extra_internal ranges: nothing would count as internal")
	}
	for i, p := range c.Ledger.Files {
		if strings.TrimSpace(p) == "" {
			v.errf(fmt.Sprintf("ledger.files[%d]", i), p, at(v.orig().Ledger.Files, i), "empty path")
		}
	}
	for _, list := range []struct {
		field     string
		cur, orig []string
	}{{"intel.files", c.Intel.Files, v.orig().Intel.Files}, {"intel.allowlist", c.Intel.Allowlist, v.orig().Intel.Allowlist}} {
		for i, p := range list.cur {
			if strings.TrimSpace(p) == "" {
				v.errf(fmt.Sprintf("%s[%d]", list.field, i), p, at(list.orig, i), "empty path")
			}
		}
	}
	if d := c.Intel.ResolveInterval; d < time.Minute {
		v.errf("intel.resolve_interval", d, v.orig().Intel.ResolveInterval, "%s is too short: resolve pool domains at most once a minute", fmtDur(d))
	}

	if ds := c.Intel.DNSServer; ds != "" {
		host := ds
		if h, port, err := net.SplitHostPort(ds); err == nil {
			host = h
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				v.errf("intel.dns_server", ds, v.orig().Intel.DNSServer, "%q: port %q is not 1-65535", ds, port)
			}
		}
		if host == "" || strings.ContainsAny(host, " /") {
			v.errf("intel.dns_server", ds, v.orig().Intel.DNSServer, "%q is not host[:port] of a DNS server", ds)
		}
	}

	if c.Sampling.DefaultRate < 1 {
		v.errf("sampling.default_rate", c.Sampling.DefaultRate, v.orig().Sampling.DefaultRate, "must be at least 1 (1 = unsampled)")
	}
	seen := map[netip.Addr]bool{}
	for i, s := range c.Sampling.Sources {
		f, line := s.field, s.line
		if f == "" {
			f = fmt.Sprintf("sampling.sources[%d]", i)
		}
		if !s.Source.IsValid() {
			v.errLine(line, f+".source", "missing: the exporter's source IP")
		}
		if s.Rate < 1 {
			v.errLine(line, f+".rate", "must be at least 1 (1 = unsampled)")
		}
		if seen[s.Source] {
			v.errLine(line, f+".source", fmt.Sprintf("%s is listed twice", s.Source))
		}
		seen[s.Source] = true
	}

	d, do := c.Detect, v.orig().Detect
	if d.Threshold < 1 || d.Threshold > 100 {
		v.errf("detect.threshold", d.Threshold, do.Threshold, "%d is outside 1..100", d.Threshold)
	}
	if d.SuspectThreshold < 1 || d.SuspectThreshold > d.Threshold {
		v.errf("detect.suspect_threshold", d.SuspectThreshold, do.SuspectThreshold, "%d is outside 1..detect.threshold (%d)", d.SuspectThreshold, d.Threshold)
	}
	if d.Floor < 0 || d.Floor > d.Threshold {
		v.errf("detect.floor", d.Floor, do.Floor, "%d is outside 0..detect.threshold (%d)", d.Floor, d.Threshold)
	}
	if d.MaxHosts < 1000 {
		v.errf("detect.max_hosts", d.MaxHosts, do.MaxHosts, "%d is below the minimum of 1000", d.MaxHosts)
	}
	if d.Window <= 0 {
		v.errf("detect.window", d.Window, do.Window, "must be positive")
	}
	if d.QuietAfter <= 0 {
		v.errf("detect.quiet_after", d.QuietAfter, do.QuietAfter, "must be positive")
	}

	if sn, so := c.Snapshot, v.orig().Snapshot; sn.Interval < time.Second || sn.Interval > time.Hour {
		v.errf("snapshot.interval", sn.Interval, so.Interval, "%s is outside 1s..1h (evidence since the last snapshot is lost on a crash)", fmtDur(sn.Interval))
	} else if sn.File != "" && (strings.TrimSpace(sn.File) == "" || strings.HasSuffix(sn.File, "/")) {
		v.errf("snapshot.file", sn.File, so.File, "%q is not a file path", sn.File)
	}

	p, po := c.Push, v.orig().Push
	if p.URL != "" {
		u, err := url.Parse(p.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errf("push.url", p.URL, po.URL, "%q is not an http:// or https:// URL", p.URL)
		} else if err := push.CheckURL(p.URL); err != nil {
			v.errf("push.url", p.URL, po.URL, "%v", err)
		}
	}
	if p.Interval < time.Second {
		v.errf("push.interval", p.Interval, po.Interval, "%s is too short (at least 1s)", fmtDur(p.Interval))
	}
	keys := make([]string, 0, len(p.ExtraLabels))
	for k := range p.ExtraLabels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f := "push.extra_labels." + k
		orig := po.ExtraLabels[k]
		switch {
		case !labelName.MatchString(k) || strings.HasPrefix(k, "__"):
			v.errf(f, k, k, "%q is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", k)
		case slices.Contains(reservedLabels, k):
			v.errf(f, k, k, "%q is a label minewatch sets itself", k)
		case k == push.InstanceLabel:
			v.errf(f, k, k, "%q is set by push.instance (default: host name:HTTP port)", k)
		case p.ExtraLabels[k] == "":
			v.errf(f, p.ExtraLabels[k], orig, "empty value")
		}
	}

	lg, lgo := c.Log, v.orig().Log
	if lerr, ferr := lg.Validate(); lerr != nil || ferr != nil {
		if lerr != nil {
			v.errf("log.level", lg.Level, lgo.Level, "%v", lerr)
		}
		if ferr != nil {
			v.errf("log.format", lg.Format, lgo.Format, "%v", ferr)
		}
	}
	return errors.Join(v.errs...)
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

type validator struct {
	c    *Config
	errs []error
}

func (v *validator) orig() *Config {
	if v.c.loaded != nil {
		return v.c.loaded
	}
	return Default()
}

// errf reports a problem with a field; it names the file line only while
// the value is still the one read from the file.
func (v *validator) errf(field string, cur, orig any, format string, args ...any) {
	line := 0
	if reflect.DeepEqual(cur, orig) {
		line = v.c.lines[field]
	}
	v.errLine(line, field, fmt.Sprintf(format, args...))
}

func (v *validator) errLine(line int, field, msg string) {
	file := v.c.file
	if line == 0 {
		file = ""
	}
	v.errs = append(v.errs, &Error{File: file, Line: line, Field: field, Msg: msg})
}

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. \":2055\" or \"0.0.0.0:2055\")", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %q is not 1-65535", addr, port)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("%q: %q is not a host", addr, host)
	}
	return nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			a = a.Unmap()
			return netip.PrefixFrom(a, a.BitLen()), nil
		}
		return netip.Prefix{}, fmt.Errorf("%q is not a valid CIDR", s)
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a valid CIDR", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set (did you mean %s?)", s, m)
	}
	return p, nil
}

// fmtDur prints a duration as written in the file where possible.
func fmtDur(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
