package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"

	"github.com/minewatch/minewatch/exporter/probe"
)

// `minewatch probe`: ask endpoints, by hand, whether they answer as a
// mining pool, exactly as the exporter's prober does (exporter/probe).
var (
	probeCmd = app.Command("probe", "Ask endpoints whether they answer as a mining pool (主动探测矿池): Stratum mining.subscribe/authorize, "+
		"the CryptoNote login and eth_submitLogin, in TCP and over TLS. This sends packets to the endpoints given; "+
		"private and loopback addresses are refused.")
	probeEndpoints = probeCmd.Arg("endpoint", "IP:port to probe ([v6]:port for IPv6), or NAME@IP:port to probe over TLS with NAME as SNI "+
		"(a listed pool domain on a shared CDN address, as the exporter does); repeatable.").Required().Strings()
	probeTLSPorts = probeCmd.Flag("tls-port", "Remote port tried over TLS first (repeatable; default 443, 8443, 9443, 14433; others are tried in TCP first, then TLS).").Uint16List()
	probeSource   = probeCmd.Flag("source", "Local address to probe from (default: the system's choice).").String()
	probeConnect  = probeCmd.Flag("connect-timeout", "Bound on one connect and TLS handshake.").Default("5s").Duration()
	probeAnswer   = probeCmd.Flag("answer-timeout", "How long one request waits for its answer.").Default("5s").Duration()
	probeLoopback = probeCmd.Flag("allow-loopback", "Allow 127.0.0.0/8 and ::1 (to check a test server on this machine).").Bool()
)

func init() {
	commands[probeCmd.FullCommand()] = func() error { return runProbe(os.Stdout) }
}

func runProbe(w io.Writer) error {
	cfg := probe.DefaultConfiguration()
	cfg.Enabled, cfg.ProbeLoopback = true, *probeLoopback
	cfg.ConnectTimeout, cfg.AnswerTimeout = *probeConnect, *probeAnswer
	if len(*probeTLSPorts) > 0 {
		cfg.TLSPorts = *probeTLSPorts
	}
	if *probeSource != "" {
		a, err := netip.ParseAddr(*probeSource)
		if err != nil {
			return fmt.Errorf("--source %q is not an IP address", *probeSource)
		}
		cfg.SourceAddress = a
	}
	var eps []probe.Target
	for _, s := range *probeEndpoints {
		name, addr, named := strings.Cut(s, "@")
		if !named {
			name, addr = "", s
		}
		ep, err := netip.ParseAddrPort(addr)
		if err != nil || named && name == "" {
			return fmt.Errorf("%q is not IP:port or NAME@IP:port (e.g. 203.0.113.7:3333, [2001:db8::7]:443, pool.example.org@104.21.48.7:443)", s)
		}
		eps = append(eps, probe.Target{Endpoint: ep, Name: name})
	}
	// The outcome is printed below; the prober's own log lines would repeat it.
	p := probe.New(cfg, probe.Dependencies{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var failed []error
	for _, ep := range eps {
		r, err := p.ProbeTarget(context.Background(), ep)
		var skip *probe.SkipError
		if errors.As(err, &skip) {
			failed = append(failed, fmt.Errorf("%s: not probed (%s)", ep, skip.Reason))
			continue
		}
		if err != nil {
			return err
		}
		r.Write(w)
	}
	return errors.Join(failed...)
}
