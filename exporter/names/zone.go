package names

import (
	"time"
	_ "time/tzdata" // the zone must load on hosts without a tz database: no silent fallback
)

// TimeZone is the campaign's zone: days, weeks, years and working hours are
// Beijing time.
const TimeZone = "Asia/Shanghai"

var location = mustLoad(TimeZone)

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		// Unreachable: time/tzdata is linked in.
		panic("names: " + err.Error())
	}
	return loc
}

// Location returns the campaign's zone, Asia/Shanghai.
func Location() *time.Location { return location }
