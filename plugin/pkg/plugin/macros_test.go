package plugin

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
)

func TestQueryIntervals(t *testing.T) {
	t0 := vmtest.At(2026, 11, 2, 0, 0)
	q := func(rng, interval time.Duration, maxPoints int64) backend.DataQuery {
		return backend.DataQuery{TimeRange: backend.TimeRange{From: t0, To: t0.Add(rng)}, Interval: interval, MaxDataPoints: maxPoints}
	}
	for _, c := range []struct {
		name       string
		dq         backend.DataQuery
		minStep    string
		step, rate time.Duration
	}{
		// 7 d over 100 points = 6048 s, rounded to 2 h; rate = max(1m+15s, 4·15s)
		{"maxDataPoints sets the step", q(7*24*time.Hour, time.Minute, 100), "", 2 * time.Hour, 75 * time.Second},
		// 6 h over 1000 points = 21.6 s → 20 s, below the frontend's interval of 30 s
		{"the frontend's interval is a floor", q(6*time.Hour, 30*time.Second, 1000), "", 30 * time.Second, time.Minute},
		// a min step replaces the scrape interval in the rate window too: max(15s+5m, 4·5m)
		{"min step", q(time.Hour, 15*time.Second, 1000), "5m", 5 * time.Minute, 20 * time.Minute},
		// no maxDataPoints (an alert rule): Grafana's 1500 points; 30 d/1500 = 1728 s → 30 m; no interval: rate = 4·15s
		{"default resolution", q(30*24*time.Hour, 0, 0), "", 30 * time.Minute, time.Minute},
		// asking for more points than 11,000 per series is widened: 30 d/11000 = 235.6 s → 5 m
		{"safe resolution", q(30*24*time.Hour, 0, 100000), "", 5 * time.Minute, time.Minute},
		{"a macro as min step is none", q(6*time.Hour, 30*time.Second, 1000), "$__interval", 30 * time.Second, time.Minute},
	} {
		iv, err := queryIntervals(c.dq, c.minStep, 15*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if iv.Step != c.step || iv.Rate != c.rate || iv.Range != c.dq.TimeRange.To.Sub(c.dq.TimeRange.From) {
			t.Errorf("%s: got step %s rate %s range %s, want step %s rate %s", c.name, iv.Step, iv.Rate, iv.Range, c.step, c.rate)
		}
	}
	if _, err := queryIntervals(q(time.Hour, 0, 0), "soon", 15*time.Second); err == nil {
		t.Error("a bad min step was accepted")
	}
}

func TestExpandMacros(t *testing.T) {
	iv := intervals{Step: 2 * time.Hour, Rate: 75 * time.Second, Range: 7*24*time.Hour + 400*time.Millisecond}
	got := expandMacros(`rate(x[$__rate_interval]) + y[${__range}] / $__range_s / $__range_ms + z[$__interval] $__interval_ms ${__rate_interval_ms} ${__interval}`, iv)
	want := `rate(x[1m15s]) + y[604800s] / 604800 / 604800400 + z[2h] 7200000 75000 2h`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if s := expandMacros(`up{job="$__nope"}`, iv); s != `up{job="$__nope"}` {
		t.Errorf("an unknown name was changed: %s", s)
	}
}

// TestRangeMacroAgainstVictoriaMetrics: the IP and unit dashboards' queries
// use [$__range]; VictoriaMetrics refuses the text as Grafana leaves it
// (422), and through the datasource the same query returns what [7d] does
// over a 7-day range.
func TestRangeMacroAgainstVictoriaMetrics(t *testing.T) {
	vm := seededVM(t)
	const expr = `max by (unit) (max_over_time(minewatch_host_score[$__range]))`
	resp, err := http.Get(vm.URL + "/api/v1/query?" + url.Values{"query": {expr}, "time": {w45To.Format(time.RFC3339)}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("VictoriaMetrics answered %s to the unsubstituted query, want 422", resp.Status)
	}

	ds := newDS(t, vm.URL, `{}`)
	js := func(e string) string {
		return `{"queryType":"metricsql","format":"table","expr":"` + strings.ReplaceAll(e, `"`, `\"`) + `"}`
	}
	macro := run(t, ds, dataQuery("A", js(expr), w45From, w45To, time.Minute))
	literal := run(t, ds, dataQuery("A", js(`max by (unit) (max_over_time(minewatch_host_score[7d]))`), w45From, w45To, time.Minute))
	if macro.Error != nil || literal.Error != nil {
		t.Fatalf("errors: %v / %v", macro.Error, literal.Error)
	}
	if len(macro.Frames) != 1 || macro.Frames[0].Rows() == 0 {
		t.Fatalf("[$__range] returned no data: %+v", macro.Frames)
	}
	if ex := macro.Frames[0].Meta.ExecutedQueryString; !strings.Contains(ex, "[604800s]") {
		t.Errorf("executed query %q does not show the substituted range", ex)
	}
	if a, b := string(dataJSON(macro)), string(dataJSON(literal)); a != b {
		t.Errorf("[$__range] and [7d] differ:\n%s\n%s", a, b)
	}

	// A time series honours maxDataPoints: 7 d over 20 points is a 6 h step
	// (29 points at most); $__rate_interval becomes a window of four samples
	// at the seeded series' 15-minute scrape interval (the datasource setting).
	ds = newDS(t, vm.URL, `{"timeInterval":"15m"}`)
	dq := dataQuery("A", `{"queryType":"metricsql","expr":"sum by (unit) (max_over_time(minewatch_host_mining[$__rate_interval]))"}`, w45From, w45To, time.Minute)
	dq.MaxDataPoints = 20
	series := run(t, ds, dq)
	if series.Error != nil || len(series.Frames) == 0 {
		t.Fatalf("series: %v %d frames", series.Error, len(series.Frames))
	}
	spaced := 0
	for _, fr := range series.Frames {
		ts := fr.Fields[0]
		if ts.Len() > 29 {
			t.Errorf("%d points for maxDataPoints 20 over 7 d", ts.Len())
		}
		for i := 1; i < ts.Len(); i++ {
			if d := ts.At(i).(time.Time).Sub(ts.At(i - 1).(time.Time)); d%(6*time.Hour) != 0 {
				t.Errorf("points %s apart, want a multiple of the 6 h step", d)
			}
			spaced++
		}
	}
	if spaced == 0 {
		t.Error("no series with two points: the step is not checked")
	}
	if ex := series.Frames[0].Meta.ExecutedQueryString; !strings.Contains(ex, "[1h]") {
		t.Errorf("executed query %q: want the rate window max(1m+15m, 4·15m)", ex)
	}
}
