// Package push writes the exporter's metrics to VictoriaMetrics (or vmagent)
// at an interval, VictoriaMetrics/metrics' push in the Prometheus text
// format, for sites where nothing can scrape the exporter.
package push

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Configuration is the `push:` section of the exporter's config file.
type Configuration struct {
	URL         string // e.g. http://vmagent:8429/api/v1/import/prometheus; "" disables pushing
	Interval    time.Duration
	ExtraLabels map[string]string // added to every pushed series (e.g. site="…")
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
	opts := &metrics.PushOptions{ExtraLabels: labels(c.ExtraLabels)}
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
