package campaign_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
)

func TestBucketEnd(t *testing.T) {
	h := time.Hour
	for _, c := range []struct{ t, want time.Time }{
		{at(2026, 11, 10, 9, 0), at(2026, 11, 10, 9, 0)}, // an exact hour H is in (H-1h, H]
		{at(2026, 11, 10, 9, 0).Add(time.Second), at(2026, 11, 10, 10, 0)},
		{at(2026, 11, 10, 9, 59), at(2026, 11, 10, 10, 0)},
	} {
		if got := campaign.BucketEnd(c.t, h); !got.Equal(c.want) {
			t.Errorf("BucketEnd(%v) = %v, want %v", c.t, got, c.want)
		}
	}
}

// TestMiningNowQueryIsTheTrackersMiningNow: the query the alert emails run
// for 当前状态 (MiningNowQuery at the bucket end BucketEndQuery computes)
// answers, at every moment T, what the tracker's 当前挖矿 says at the data
// time the email prints (EvalTimeQuery: T to the second), on the same
// VictoriaMetrics: on the hour and off it. At the moments just after the
// IP's last flagged bucket the sliding hour before T (the email's query
// before) says otherwise; the test checks that too, so that it shows the
// difference it guards.
func TestMiningNowQueryIsTheTrackersMiningNow(t *testing.T) {
	t.Parallel()
	vm := vmtest.Start(t)
	const ip, unit = "10.9.0.1", "u-a"
	day := at(2026, 11, 10, 0, 0)
	var s vmtest.Series
	// Flagged 08:10–09:50 (buckets ending 09:00 and 10:00), then scored and not mining until 12:00.
	s.Every("minewatch_host_mining", 1, day.Add(8*time.Hour+10*time.Minute), day.Add(9*time.Hour+51*time.Minute), time.Minute, "ip", ip, "unit", unit)
	s.Every("minewatch_host_mining", 0, day.Add(9*time.Hour+51*time.Minute), day.Add(12*time.Hour), time.Minute, "ip", ip, "unit", unit)
	vm.Import(t, s.Lines)
	vm.Flush(t)

	c, err := api.NewClient(api.Config{Address: vm.URL})
	if err != nil {
		t.Fatal(err)
	}
	prom := v1.NewAPI(c)
	cfg := campaign.DefaultConfig()
	src := &campaign.Source{API: prom, Config: cfg}
	ctx := context.Background()
	query := func(q string, at time.Time) model.Vector {
		t.Helper()
		v, _, err := prom.Query(ctx, q, at)
		if err != nil {
			t.Fatalf("%s at %v: %v", q, at, err)
		}
		vec, ok := v.(model.Vector)
		if !ok {
			t.Fatalf("%s at %v: %s, want a vector", q, at, v.Type())
		}
		return vec
	}
	sel := fmt.Sprintf("minewatch_host_mining{ip=%q,unit=%q}", ip, unit)
	sliding := fmt.Sprintf("max(max_over_time(%s[%ds])) > 0", sel, int64(cfg.Step/time.Second))
	sawDifference := false
	for _, c := range []struct {
		clock string // Beijing time of T on day
		want  bool   // mining now: flagged in (BucketEnd(T)-1h, BucketEnd(T)]
	}{
		{"08:30:00", true}, {"09:00:00", true}, {"09:00:01", true}, {"09:55:00", true}, {"10:00:00", true},
		{"10:00:00.400", true}, // as of 10:00:00, the second the email prints as 数据时间
		{"10:00:30", false}, {"10:01:00", false}, {"10:30:00", false}, {"10:49:00", false}, {"11:00:00", false}, {"11:30:00", false},
	} {
		d, err := time.Parse("15:04:05.999", c.clock)
		if err != nil {
			t.Fatal(err)
		}
		T := day.Add(d.Sub(d.Truncate(24 * time.Hour)))
		// The data time and the bucket end as the annotations compute them, at T.
		dtVec := query(campaign.EvalTimeQuery, T)
		if len(dtVec) != 1 || int64(dtVec[0].Value) != T.Unix() {
			t.Fatalf("%s: EvalTimeQuery = %v, want %d", c.clock, dtVec, T.Unix())
		}
		dt := time.Unix(int64(dtVec[0].Value), 0)
		endVec := query(campaign.BucketEndQuery(cfg.Step), T)
		if len(endVec) != 1 || int64(endVec[0].Value) != campaign.BucketEnd(dt, cfg.Step).Unix() {
			t.Fatalf("%s: BucketEndQuery = %v, want %d", c.clock, endVec, campaign.BucketEnd(dt, cfg.Step).Unix())
		}
		email := len(query(campaign.MiningNowQuery(sel, cfg.Step, strconv.FormatInt(int64(endVec[0].Value), 10)), T)) > 0
		rows, err := src.Tracker(ctx, campaign.Filter{}, nil, day, dt, nil) // the tracker at the printed data time
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].IP != ip {
			t.Fatalf("%s: tracker rows %+v, want the one IP", c.clock, rows)
		}
		if rows[0].MiningNow != c.want || email != c.want {
			t.Errorf("%s: tracker mining now %v, MiningNowQuery %v, want %v", c.clock, rows[0].MiningNow, email, c.want)
		}
		if old := len(query(sliding, T)) > 0; old != c.want {
			sawDifference = true
			t.Logf("%s: the sliding hour says mining=%v (the tracker: %v)", c.clock, old, c.want)
		}
	}
	if !sawDifference {
		t.Error("the sliding-hour query agreed with the tracker at every moment: the moments do not cover the window where they differ")
	}
}
