package campaign

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Week is an ISO 8601 week (Monday to Sunday) taken in the configured zone.
type Week struct {
	Year, Week int
}

var weekPattern = regexp.MustCompile(`^(\d{4})-?W(\d{2})$`)

// ParseWeek parses "2026-W47" (or "2026W47").
func ParseWeek(s string) (Week, error) {
	m := weekPattern.FindStringSubmatch(s)
	if m == nil {
		return Week{}, fmt.Errorf("bad week %q: want an ISO week like 2026-W47", s)
	}
	y, _ := strconv.Atoi(m[1])
	w, _ := strconv.Atoi(m[2])
	if w < 1 || w > isoWeeksIn(y) {
		return Week{}, fmt.Errorf("bad week %q: %d has %d ISO weeks", s, y, isoWeeksIn(y))
	}
	return Week{Year: y, Week: w}, nil
}

func isoWeeksIn(year int) int {
	_, w := time.Date(year, 12, 28, 12, 0, 0, 0, time.UTC).ISOWeek()
	return w
}

// WeekOf is the ISO week containing t in loc.
func WeekOf(t time.Time, loc *time.Location) Week {
	y, w := t.In(loc).ISOWeek()
	return Week{Year: y, Week: w}
}

// String formats the week as "2026-W47".
func (w Week) String() string { return fmt.Sprintf("%04d-W%02d", w.Year, w.Week) }

// Start is Monday 00:00 of the week in loc.
func (w Week) Start(loc *time.Location) time.Time {
	// 4 January is always in ISO week 1.
	jan4 := time.Date(w.Year, 1, 4, 0, 0, 0, 0, loc)
	monday := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
	return monday.AddDate(0, 0, 7*(w.Week-1))
}

// End is the next Monday 00:00 in loc (exclusive).
func (w Week) End(loc *time.Location) time.Time { return w.Start(loc).AddDate(0, 0, 7) }

// Prev is the week before.
func (w Week) Prev(loc *time.Location) Week {
	return WeekOf(w.Start(loc).AddDate(0, 0, -3), loc)
}
