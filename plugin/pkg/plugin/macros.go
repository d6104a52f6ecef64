package plugin

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/gtime"
	"github.com/prometheus/common/model"
)

// Grafana substitutes $__range, $__interval and $__rate_interval in query
// text only for its own Prometheus and Loki datasources; for any other
// datasource the text reaches the backend as written, and VictoriaMetrics
// refuses "[$__range]" (422). So the backend substitutes them here, with the
// meaning Grafana's Prometheus datasource gives them (its pkg/promlib), so
// that a panel means the same whichever datasource it is pointed at.

// intervals are the durations of one query that its macros stand for.
type intervals struct {
	Step  time.Duration // range query step; $__interval, $__interval_ms
	Rate  time.Duration // $__rate_interval, $__rate_interval_ms
	Range time.Duration // $__range, $__range_s, $__range_ms
}

// defaultResolution is the number of points Grafana aims at when a query
// carries no maxDataPoints (alert rules, API calls).
const defaultResolution = 1500

// safeResolution bounds the points of one series: Grafana's Prometheus
// datasource widens the step so that no range query asks for more (and it
// stays under VictoriaMetrics' -search.maxPointsPerTimeseries, 30,000).
const safeResolution = 11000

// queryIntervals computes a query's step and macro values from its time
// range, interval and maxDataPoints, the query's min step (minStep, "" for
// none) and the datasource's scrape interval:
//   - step = the largest of: the range over maxDataPoints (rounded the way
//     Grafana rounds intervals), the min step (else the interval Grafana's
//     frontend computed, else the scrape interval), and the range over 11,000;
//   - rate = max(interval + s, 4·s), s the min step if set, else the scrape
//     interval: a rate window always holds at least four samples and covers
//     one whole step plus a sample;
//   - range = the length of the time range.
func queryIntervals(dq backend.DataQuery, minStep string, scrape time.Duration) (intervals, error) {
	rng := dq.TimeRange.To.Sub(dq.TimeRange.From)
	if strings.HasPrefix(strings.TrimSpace(minStep), "$") { // a macro as min step: none (as Grafana)
		minStep = ""
	}
	var floor, base time.Duration
	if s := strings.TrimSpace(minStep); s != "" {
		d, err := gtime.ParseIntervalStringToTimeDuration(s)
		if err != nil || d <= 0 {
			return intervals{}, fmt.Errorf("bad min step (interval) %q: want a duration like 30s or 5m", minStep)
		}
		floor, base = d, d
	} else {
		floor, base = dq.Interval, scrape
		if floor <= 0 {
			floor = scrape
		}
	}
	points := dq.MaxDataPoints
	if points <= 0 {
		points = defaultResolution
	}
	step := gtime.RoundInterval(rng / time.Duration(points))
	if step < floor {
		step = floor
	}
	if safe := gtime.RoundInterval(rng / safeResolution); safe > step {
		step = safe
	}
	if step <= 0 {
		step = time.Second
	}
	rate := max(dq.Interval+base, 4*base)
	return intervals{Step: step, Rate: rate, Range: rng}, nil
}

// expandMacros substitutes the interval and range macros in expr, in both
// the $__name and the ${__name} spelling. Longer names come first, so that
// $__range_s is never read as $__range followed by "_s".
func expandMacros(expr string, iv intervals) string {
	if !strings.Contains(expr, "__") {
		return expr
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	rangeS := strconv.FormatInt(iv.Range.Round(time.Second).Milliseconds()/1000, 10)
	values := []struct{ name, value string }{
		{"__interval_ms", ms(iv.Step)},
		{"__interval", gtime.FormatInterval(iv.Step)},
		{"__rate_interval_ms", ms(iv.Rate)},
		{"__rate_interval", model.Duration(iv.Rate).String()},
		{"__range_ms", ms(iv.Range)},
		{"__range_s", rangeS},
		{"__range", rangeS + "s"},
	}
	pairs := make([]string, 0, 4*len(values))
	for _, v := range values {
		pairs = append(pairs, "${"+v.name+"}", v.value)
	}
	for _, v := range values {
		pairs = append(pairs, "$"+v.name, v.value)
	}
	return strings.NewReplacer(pairs...).Replace(expr)
}
