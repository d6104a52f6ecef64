package yamlcheck

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The typed readers every section of the config file uses, so that a number,
// a duration or a yes/no is spelt and checked the same way everywhere. Each
// records a problem (with its line) and returns ok=false on a bad value; a
// null or empty value is a problem too (a key written without a value).

var digits = regexp.MustCompile(`^[+-]?[0-9_]+$`)

// value is the scalar text, refusing an empty one.
func (w *Walker) value(n *yaml.Node, field string) (string, bool) {
	s, ok := w.Scalar(n, field)
	if ok && s == "" {
		w.Errf(n, field, "empty value")
		return "", false
	}
	return s, ok
}

// Int reads a whole number (underscores allowed: 1_000_000) in min..max.
func (w *Walker) Int(n *yaml.Node, field string, min, max int) (int, bool) {
	s, ok := w.value(n, field)
	if !ok {
		return 0, false
	}
	if !digits.MatchString(s) {
		w.Errf(n, field, "%q is not a whole number", s)
		return 0, false
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil || v < int64(min) || v > int64(max) {
		if min == math.MinInt32 && max == math.MaxInt32 {
			w.Errf(n, field, "%q is out of range", s)
		} else {
			w.Errf(n, field, "%q is not a whole number in %d..%d", s, min, max)
		}
		return 0, false
	}
	return int(v), true
}

// AnyInt is Int over the whole int32 range: for values whose range the
// caller checks against other values (e.g. a floor below a threshold).
func (w *Walker) AnyInt(n *yaml.Node, field string) (int, bool) {
	return w.Int(n, field, math.MinInt32, math.MaxInt32)
}

// Float reads a number above 0 and at most max; unit names it in the message
// ("lines a second").
func (w *Walker) Float(n *yaml.Node, field string, max float64, unit string) (float64, bool) {
	s, ok := w.value(n, field)
	if !ok {
		return 0, false
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || !(x > 0 && x <= max) {
		w.Errf(n, field, "%q is not a number above 0 and at most %g (%s)", s, max, unit)
		return 0, false
	}
	return x, true
}

// Duration reads a duration of at least min: Go's spelling plus days
// ("90s", "1h30m", "7d", "1d12h").
func (w *Walker) Duration(n *yaml.Node, field string, min time.Duration) (time.Duration, bool) {
	s, ok := w.value(n, field)
	if !ok {
		return 0, false
	}
	d, err := ParseDuration(s)
	if err != nil {
		w.Errf(n, field, "%v", err)
		return 0, false
	}
	if d < min {
		w.Errf(n, field, "%q is shorter than %v", s, min)
		return 0, false
	}
	return d, true
}

// Bool reads true or false (YAML 1.2 spelling only: "yes" and "on" are
// refused rather than guessed).
func (w *Walker) Bool(n *yaml.Node, field string) (bool, bool) {
	s, ok := w.value(n, field)
	if !ok {
		return false, false
	}
	switch s {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	w.Errf(n, field, "%q is not true or false", s)
	return false, false
}

var dayPrefix = regexp.MustCompile(`^(\d+)d(.*)$`)

// ParseDuration reads Go durations ("90s", "1h30m") plus days: "7d", "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var days time.Duration
	if m := dayPrefix.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 100000 {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		if m[2] == "" {
			return days, nil
		}
		s = m[2]
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (e.g. 30s, 15m, 24h, 7d)", s)
	}
	return days + d, nil
}
