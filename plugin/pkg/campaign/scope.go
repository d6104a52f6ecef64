package campaign

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/minewatch/minewatch/exporter/names"
)

// ValidUnit reports whether id may be a unit id (the ledger's rule, names.ValidUnitID).
// Checking every id before it goes into a query means no query text can be
// smuggled in through a unit filter or a scope.
func ValidUnit(id string) bool { return names.ValidUnitID(id) }

// ErrBadUnit is returned for a unit id outside names.UnitIDPattern.
var ErrBadUnit = errors.New("bad unit id")

// CheckUnits rejects any id that is not a valid unit id.
func CheckUnits(ids []string) error {
	for _, id := range ids {
		if !ValidUnit(id) {
			return fmt.Errorf("%w %q: %s", ErrBadUnit, id, names.UnitIDRule)
		}
	}
	return nil
}

// QuoteLabelValue quotes a string for a PromQL/MetricsQL label matcher.
func QuoteLabelValue(s string) string { return strconv.Quote(s) }

// unitRegex is an anchored alternation of valid unit ids (dots escaped).
func unitRegex(units []string) string {
	parts := make([]string, len(units))
	for i, u := range units {
		parts[i] = regexp.QuoteMeta(u)
	}
	sort.Strings(parts)
	return strings.Join(parts, "|")
}

// Scope is the set of units a query may read. All means no restriction.
type Scope struct {
	All   bool
	Units []string // sorted, valid ids; empty with All=false means nothing may be read
}

// Matcher is the label matcher text restricting a selector to the scope
// (empty when All). Units must have been checked with CheckUnits.
func (s Scope) Matcher() string {
	if s.All {
		return ""
	}
	return "unit=~" + QuoteLabelValue(unitRegex(s.Units))
}

// Empty reports whether the scope admits no unit at all.
func (s Scope) Empty() bool { return !s.All && len(s.Units) == 0 }

// Allows reports whether a unit is inside the scope.
func (s Scope) Allows(unit string) bool {
	if s.All {
		return true
	}
	i := sort.SearchStrings(s.Units, unit)
	return i < len(s.Units) && s.Units[i] == unit
}

// Selector renders metric{unit=~"…"} for the scope.
func (s Scope) Selector(metric string) string {
	if m := s.Matcher(); m != "" {
		return metric + "{" + m + "}"
	}
	return metric
}

// NewScope intersects the datasource's admin scope (empty = all units) with
// a query's unit filter (empty = no filter).
func NewScope(admin, filter []string) (Scope, error) {
	// An empty value (an unset template variable) filters nothing; the admin
	// scope still applies.
	filter = slices.DeleteFunc(slices.Clone(filter), func(u string) bool { return u == "" })
	if err := CheckUnits(admin); err != nil {
		return Scope{}, err
	}
	if err := CheckUnits(filter); err != nil {
		return Scope{}, err
	}
	switch {
	case len(admin) == 0 && len(filter) == 0:
		return Scope{All: true}, nil
	case len(admin) == 0:
		return Scope{Units: uniqSorted(filter)}, nil
	case len(filter) == 0:
		return Scope{Units: uniqSorted(admin)}, nil
	}
	allowed := map[string]bool{}
	for _, u := range admin {
		allowed[u] = true
	}
	var both []string
	for _, u := range filter {
		if allowed[u] {
			both = append(both, u)
		}
	}
	return Scope{Units: uniqSorted(both)}, nil
}

func uniqSorted(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	n := 0
	for i, s := range out {
		if i == 0 || s != out[n-1] {
			out[n] = s
			n++
		}
	}
	return out[:n]
}

// ScopeExpr confines a user's PromQL expression to the scope: it parses the
// expression with Prometheus' PromQL parser and adds the unit matcher to
// every series selector, so a scoped user can read only series of the
// scope's units whatever the query says. MetricsQL-only syntax (WITH, extra
// functions) does not parse and is refused on a scoped datasource.
func ScopeExpr(expr string, s Scope) (string, error) {
	if s.All {
		return expr, nil
	}
	if s.Empty() {
		return "", fmt.Errorf("%w: the datasource's unit scope admits no unit", ErrBadInput)
	}
	p := parser.NewParser(parser.Options{})
	e, err := p.ParseExpr(expr)
	if err != nil {
		return "", fmt.Errorf("%w: this datasource is scoped to units; only PromQL that Prometheus' parser accepts can be confined to them: %v", ErrBadInput, err)
	}
	m, err := labels.NewMatcher(labels.MatchRegexp, "unit", unitRegex(s.Units))
	if err != nil {
		return "", err
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			vs.LabelMatchers = append(vs.LabelMatchers, m)
		}
		return nil
	})
	return e.String(), nil
}

// ErrBadInput marks errors in what a query asked for (not in the store).
var ErrBadInput = errors.New("bad query")

// FreeTextLabels are ledger labels of free text that may hold a person's
// name ("王处长的电脑"). On a datasource that hides persons a query may not
// name them either: a matcher or regex on them would tell whether a name
// exists. Their values are still shown, blanked where they hold a name.
var FreeTextLabels = []model.LabelName{"asset", "location", "department", "note"}

// HiddenQueryLabels are the labels a query may not name when persons are hidden.
func HiddenQueryLabels() []model.LabelName {
	return append(slices.Clone(PersonLabels), FreeTextLabels...)
}

// CheckHiddenLabels refuses, on a datasource that hides persons, any query
// that names a hidden label anywhere: in a selector's matchers (which would
// test whether a name exists: count(x{owner="…"})), in by/without, on/
// ignoring or group_left/right label lists, or as a string argument
// (label_replace and label_join copy a label into another; count_values
// names one). Without naming the label no PromQL expression can move its
// value out of it, and the label itself is blanked in results, so what is
// left cannot show a hidden value or signal that one exists. Expressions
// Prometheus' parser does not accept (MetricsQL-only syntax) cannot be
// checked and are refused.
func CheckHiddenLabels(expr string, hidden []model.LabelName) error {
	isHidden := func(name string) bool { return slices.Contains(hidden, model.LabelName(name)) }
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return fmt.Errorf("%w: this datasource hides persons; only PromQL that Prometheus' parser accepts can be checked: %v", ErrBadInput, err)
	}
	var found string
	note := func(where, name string) {
		if found == "" && isHidden(name) {
			found = fmt.Sprintf("%s %q", where, name)
		}
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch x := n.(type) {
		case *parser.VectorSelector:
			for _, m := range x.LabelMatchers {
				note("a matcher on", m.Name)
			}
		case *parser.AggregateExpr:
			for _, l := range x.Grouping {
				note("grouping by", l)
			}
		case *parser.BinaryExpr:
			if vm := x.VectorMatching; vm != nil {
				for _, l := range append(slices.Clone(vm.MatchingLabels), vm.Include...) {
					note("vector matching on", l)
				}
			}
		case *parser.StringLiteral:
			note("the label argument", x.Val)
		}
		return nil
	})
	if found != "" {
		return fmt.Errorf("%w: this datasource hides persons (hidePersons): the query uses %s, a label that holds or may hold a person's name", ErrBadInput, found)
	}
	return nil
}

// HideValues blanks, in a query result, every person label and every label
// value that contains one of the hidden values (a person's name, wherever
// a query put it). It is the result-side half of hidePersons; hidden values
// shorter than two characters are not matched (they would blank everything).
func HideValues(v model.Value, hiddenLabels []model.LabelName, values []string) {
	var vals []string
	for _, s := range values {
		if len([]rune(s)) >= 2 {
			vals = append(vals, s)
		}
	}
	blank := func(m model.Metric) {
		for name, val := range m {
			if slices.Contains(hiddenLabels, name) {
				m[name] = ""
				continue
			}
			for _, h := range vals {
				if strings.Contains(string(val), h) {
					m[name] = ""
					break
				}
			}
		}
	}
	switch x := v.(type) {
	case model.Matrix:
		for _, ss := range x {
			blank(ss.Metric)
		}
	case model.Vector:
		for _, smp := range x {
			blank(smp.Metric)
		}
	}
}

// personValues reads every value the person labels hold in the window
// before at, in every unit (blanking more than the scope is harmless), so
// that HideValues can blank them wherever a result carries them. An error
// fails the query: persons are never shown because this lookup failed.
func (s *Source) personValues(ctx context.Context, st *Stats, at time.Time, window time.Duration) ([]string, error) {
	var out []string
	for _, l := range PersonLabels {
		q := fmt.Sprintf("count by (%s) (last_over_time({%s!=\"\"}[%s]))", l, l, dur(window))
		v, err := s.instant(ctx, st, q, at)
		if err != nil {
			return nil, fmt.Errorf("hidePersons: reading the names to hide: %w", err)
		}
		for _, smp := range asVector(v) {
			if n := string(smp.Metric[l]); n != "" {
				out = append(out, n)
			}
		}
	}
	return out, nil
}
