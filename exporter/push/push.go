// Package push writes the exporter's metrics to VictoriaMetrics (or vmagent)
// at an interval, VictoriaMetrics/metrics' push in the Prometheus text
// format, for sites where nothing can scrape the exporter. The URL may be a
// single node, vmagent, or a VictoriaMetrics cluster's vminsert with the
// tenant in the path (CheckURL); every pushed series carries the exporter's
// instance label, so that several exporters writing to one store never mix
// their series (docs/scaling.md).
package push

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Configuration is the `push:` section of the exporter's config file.
type Configuration struct {
	URL         string // e.g. http://vmagent:8429/api/v1/import/prometheus; "" disables pushing
	Interval    time.Duration
	ExtraLabels map[string]string // added to every pushed series (e.g. site="…")
	// Instance is the value of the instance label on every pushed series;
	// "" takes DefaultInstance (host name and HTTP port, as a scrape would).
	Instance string
}

// InstanceLabel is the label that tells the series of one exporter from
// another's, the one a Prometheus-style scrape sets (the exporter health
// rules group by it).
const InstanceLabel = "instance"

// DefaultInstance is the instance of an exporter whose HTTP endpoint is
// bound at addr: host name:port, what a scrape of it would set, and
// distinct for two exporters on one machine.
func DefaultInstance(addr net.Addr) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	port := ""
	if a, ok := addr.(*net.TCPAddr); ok {
		port = strconv.Itoa(a.Port)
	} else if addr != nil {
		_, port, _ = net.SplitHostPort(addr.String())
	}
	if port == "" {
		return host
	}
	return net.JoinHostPort(host, port)
}

// DefaultConfiguration returns pushing off, every 15 s once a URL is set: the
// scrape interval the dashboards and rules are written for.
func DefaultConfiguration() Configuration {
	return Configuration{Interval: 15 * time.Second}
}

// Start pushes what write writes every interval until ctx ends. With no URL
// it does nothing.
func Start(ctx context.Context, c Configuration, write func(io.Writer)) error {
	if c.URL == "" {
		return nil
	}
	extra := c.ExtraLabels
	if c.Instance != "" {
		extra = make(map[string]string, len(c.ExtraLabels)+1)
		for k, v := range c.ExtraLabels {
			extra[k] = v
		}
		extra[InstanceLabel] = c.Instance
	}
	opts := &metrics.PushOptions{ExtraLabels: labels(extra)}
	if err := metrics.InitPushExtWithOptions(ctx, c.URL, c.Interval, write, opts); err != nil {
		return fmt.Errorf("push to %s: %w", c.URL, err)
	}
	return nil
}

// labels renders extra labels as the metrics library takes them, sorted so
// that every push carries them in the same order.
func labels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, m[k])
	}
	return strings.Join(parts, ",")
}

// CheckURL checks a push URL beyond http(s)://host: a VictoriaMetrics
// cluster takes writes at vminsert's /insert/<tenant>/prometheus/..., where
// the tenant is accountID or accountID:projectID (32-bit unsigned numbers)
// or "multitenant" (the tenant then comes from vm_account_id /
// vm_project_id labels). vmselect's /select/ path only reads.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL", raw)
	}
	const example = "e.g. http://vminsert:8480/insert/0/prometheus/api/v1/import/prometheus"
	switch {
	case strings.HasPrefix(u.Path, "/select/"):
		return fmt.Errorf("%q is vmselect's read path: pushes go to vminsert's /insert/<accountID>/prometheus/api/v1/import/prometheus (%s)", raw, example)
	case u.Path == "/insert" || strings.HasPrefix(u.Path, "/insert/"):
		rest := strings.TrimPrefix(strings.TrimPrefix(u.Path, "/insert"), "/")
		tenant, suffix, _ := strings.Cut(rest, "/")
		if !validTenant(tenant) {
			return fmt.Errorf("%q: a VictoriaMetrics cluster URL needs the tenant after /insert/: accountID or accountID:projectID (0..4294967295) or multitenant, not %q (%s)", raw, tenant, example)
		}
		if suffix != "prometheus/api/v1/import/prometheus" {
			return fmt.Errorf("%q: after the tenant vminsert takes the Prometheus text format at prometheus/api/v1/import/prometheus, not %q (%s)", raw, suffix, example)
		}
	}
	return nil
}

func validTenant(t string) bool {
	if t == "multitenant" {
		return true
	}
	acc, proj, hasProj := strings.Cut(t, ":")
	num := func(s string) bool {
		_, err := strconv.ParseUint(s, 10, 32)
		return err == nil
	}
	return num(acc) && (!hasProj || num(proj))
}
