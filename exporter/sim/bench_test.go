package sim

import (
	"testing"
	"time"
)

// BenchmarkGenerateDistrictHour generates one hour of the 5,000-host district
// and reports records per second (and the projected time of a full day).
func BenchmarkGenerateDistrictHour(b *testing.B) {
	s, err := Load("../scenarios/district-day.yaml")
	if err != nil {
		b.Fatal(err)
	}
	s.Start = s.Start.Add(10 * time.Hour) // a busy hour
	s.Duration = time.Hour
	var recs int
	b.ResetTimer()
	for range b.N {
		res, err := Generate(s, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		recs += len(res.Records)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(recs)/sec, "records/s")
	b.ReportMetric(float64(recs)/float64(b.N), "records/op")
}
