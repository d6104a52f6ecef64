package probe

import (
	"net/netip"
	"slices"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/minewatch/minewatch/exporter/yamlcheck"
)

// Configuration is what an operator sets for the active prober (proposed
// as the `probe:` section of the exporter's config file). Zero values take
// DefaultConfiguration's; the prober is off unless Enabled, because it
// sends packets to outside hosts, which each deployment decides for itself.
type Configuration struct {
	// Enabled turns probing on. Off: Probe and Submit do nothing and count
	// reason "disabled".
	Enabled bool
	// SourceAddress is the local address probes leave from (zero: the
	// system picks), e.g. an address the edge firewall lets out and that
	// pool operators can look up as the bureau's.
	SourceAddress netip.Addr
	// ConnectTimeout bounds one TCP connect and, over TLS, its handshake.
	ConnectTimeout time.Duration
	// AnswerTimeout is how long one request waits for its answer.
	AnswerTimeout time.Duration
	// ProbeTimeout bounds everything one endpoint's probe does (all
	// protocols, both transports).
	ProbeTimeout time.Duration
	// TLSPorts are the remote ports tried over TLS first; every other port
	// is tried in plain TCP first. Either way the other transport follows
	// when the first gave no mining answer.
	TLSPorts []uint16
	// Rate and Burst are the token bucket of probes (endpoints) a second.
	Rate  float64
	Burst int
	// Concurrency bounds the endpoints probed at once.
	Concurrency int
	// QueueSize bounds the endpoints Submit holds waiting for a worker;
	// past it Submit drops (counted, reason "queue_full").
	QueueSize int
	// How long an outcome is kept before the endpoint may be probed again.
	ConfirmedTTL, RefutedTTL, ErrorTTL time.Duration
	// MaxCache bounds the endpoints whose outcome is kept.
	MaxCache int
	// Login is the account name sent with logins. Pools answer a login with
	// a job or an error about the wallet; both show a pool.
	Login string
	// Agent is the client name sent in mining.subscribe and login.
	Agent string
	// MaxAnswer bounds the bytes read from one connection.
	MaxAnswer int
	// ProbeLoopback lets loopback endpoints be probed: for tests and the
	// demo only. Other private, link-local, multicast and shared
	// (100.64.0.0/10) addresses are never probed.
	ProbeLoopback bool
}

// DefaultConfiguration returns the defaults; probing is off.
func DefaultConfiguration() Configuration {
	return Configuration{
		ConnectTimeout: 5 * time.Second,
		AnswerTimeout:  5 * time.Second,
		ProbeTimeout:   60 * time.Second,
		// 443 and 8443 are HTTPS's; 9443 and 14433 are pools' published TLS
		// ports (e.g. nanopool's XMR SSL port 14433).
		TLSPorts:     []uint16{443, 8443, 9443, 14433},
		Rate:         1,
		Burst:        10,
		Concurrency:  4,
		QueueSize:    1024,
		ConfirmedTTL: 7 * 24 * time.Hour,
		RefutedTTL:   24 * time.Hour,
		ErrorTTL:     15 * time.Minute,
		MaxCache:     100_000,
		Login:        "minewatch-probe",
		Agent:        "minewatch-probe/1.0",
		MaxAnswer:    16 << 10,
	}
}

// withDefaults fills zero fields from DefaultConfiguration.
func (c Configuration) withDefaults() Configuration {
	d := DefaultConfiguration()
	dur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	num := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	dur(&c.ConnectTimeout, d.ConnectTimeout)
	dur(&c.AnswerTimeout, d.AnswerTimeout)
	dur(&c.ProbeTimeout, d.ProbeTimeout)
	dur(&c.ConfirmedTTL, d.ConfirmedTTL)
	dur(&c.RefutedTTL, d.RefutedTTL)
	dur(&c.ErrorTTL, d.ErrorTTL)
	num(&c.Burst, d.Burst)
	num(&c.Concurrency, d.Concurrency)
	num(&c.QueueSize, d.QueueSize)
	num(&c.MaxCache, d.MaxCache)
	num(&c.MaxAnswer, d.MaxAnswer)
	if c.Rate <= 0 {
		c.Rate = d.Rate
	}
	if c.TLSPorts == nil {
		c.TLSPorts = d.TLSPorts
	}
	if c.Login == "" {
		c.Login = d.Login
	}
	if c.Agent == "" {
		c.Agent = d.Agent
	}
	return c
}

func (c *Configuration) tlsFirst(port uint16) bool { return slices.Contains(c.TLSPorts, port) }

// configKeys are the keys of the `probe:` section.
var configKeys = []string{"enabled", "source_address", "connect_timeout", "answer_timeout", "probe_timeout",
	"tls_ports", "rate", "burst", "concurrency", "queue_size", "confirmed_ttl", "refuted_ttl", "error_ttl",
	"max_cache", "login", "agent", "max_answer_bytes", "probe_loopback"}

// DecodeYAML reads the `probe:` section (n, at field path) over c,
// recording every problem in w with its line.
func (c *Configuration) DecodeYAML(w *yamlcheck.Walker, n *yaml.Node, path string) {
	w.Fields(n, path, configKeys, func(key string, v *yaml.Node, f string) {
		if key == "tls_ports" {
			c.TLSPorts = []uint16{}
			w.Seq(v, f, func(_ int, v *yaml.Node, f string) {
				s, ok := w.Scalar(v, f)
				if !ok {
					return
				}
				p, err := strconv.ParseUint(s, 10, 16)
				if err != nil || p == 0 {
					w.Errf(v, f, "%q is not a TCP port (1..65535)", s)
					return
				}
				c.TLSPorts = append(c.TLSPorts, uint16(p))
			})
			return
		}
		whole := func(dst *int, min, max int) {
			if x, ok := w.Int(v, f, min, max); ok {
				*dst = x
			}
		}
		duration := func(dst *time.Duration, min time.Duration) {
			if d, ok := w.Duration(v, f, min); ok {
				*dst = d
			}
		}
		boolean := func(dst *bool) {
			if b, ok := w.Bool(v, f); ok {
				*dst = b
			}
		}
		text := func() (string, bool) {
			s, ok := w.Scalar(v, f)
			if ok && s == "" {
				w.Errf(v, f, "empty value")
				return "", false
			}
			return s, ok
		}
		switch key {
		case "enabled":
			boolean(&c.Enabled)
		case "probe_loopback":
			boolean(&c.ProbeLoopback)
		case "source_address":
			s, ok := text()
			if !ok {
				return
			}
			a, err := netip.ParseAddr(s)
			if err != nil || a.Zone() != "" || !a.IsGlobalUnicast() && !a.IsLoopback() {
				w.Errf(v, f, "%q is not a unicast IP address of this machine (e.g. 192.0.2.10)", s)
				return
			}
			c.SourceAddress = a.Unmap()
		case "connect_timeout":
			duration(&c.ConnectTimeout, 100*time.Millisecond)
		case "answer_timeout":
			duration(&c.AnswerTimeout, 100*time.Millisecond)
		case "probe_timeout":
			duration(&c.ProbeTimeout, time.Second)
		case "confirmed_ttl":
			duration(&c.ConfirmedTTL, time.Minute)
		case "refuted_ttl":
			duration(&c.RefutedTTL, time.Minute)
		case "error_ttl":
			duration(&c.ErrorTTL, time.Second)
		case "rate":
			if x, ok := w.Float(v, f, 10_000, "probes a second, e.g. 1 or 0.1"); ok {
				c.Rate = x
			}
		case "burst":
			whole(&c.Burst, 1, 100_000)
		case "concurrency":
			whole(&c.Concurrency, 1, 1024)
		case "queue_size":
			whole(&c.QueueSize, 1, 1_000_000)
		case "max_cache":
			whole(&c.MaxCache, 1, 10_000_000)
		case "max_answer_bytes":
			whole(&c.MaxAnswer, 256, 1<<20)
		case "login":
			if s, ok := text(); ok {
				c.Login = s
			}
		case "agent":
			if s, ok := text(); ok {
				c.Agent = s
			}
		}
	})
}
