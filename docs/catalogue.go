// Package docs holds the project's reference documents; Go code reads the
// metric catalogue from here, so dashboards and rules are checked against the
// same list people read.
package docs

import (
	_ "embed"
	"regexp"
	"strings"
)

//go:embed metrics.md
var metricsMD string

var metricRow = regexp.MustCompile("^\\|\\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\\s*\\|")

// MetricNames returns the metric and recorded-series names of metrics.md
// (the first column of its tables).
func MetricNames() map[string]bool {
	names := map[string]bool{}
	for _, l := range strings.Split(metricsMD, "\n") {
		if m := metricRow.FindStringSubmatch(l); m != nil {
			names[m[1]] = true
		}
	}
	return names
}
