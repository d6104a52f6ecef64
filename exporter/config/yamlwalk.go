package config

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Error is one configuration problem.
type Error struct {
	File  string // "" when the value did not come from the file
	Line  int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	switch {
	case e.File == "":
		return e.Field + ": " + e.Msg
	case e.Line == 0:
		return e.File + ": " + e.Field + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// walker decodes YAML nodes into fields, collecting every problem and the
// line of every field it sets.
type walker struct {
	file  string
	lines map[string]int
	errs  []error
}

func (w *walker) errf(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	w.errs = append(w.errs, &Error{File: w.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func (w *walker) fields(n *yaml.Node, path string, known []string, each func(key string, v *yaml.Node, field string)) {
	n = resolveAlias(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		name := path
		if name == "" {
			name = "top level"
		}
		w.errf(n, name, "must be a mapping (key: value)")
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		field := k.Value
		if path != "" {
			field = path + "." + k.Value
		}
		if !slices.Contains(known, k.Value) {
			w.errf(k, field, "unknown field (known: %s)", strings.Join(known, ", "))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			w.errf(k, field, "set twice (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		w.lines[field] = v.Line
		each(k.Value, v, field)
	}
}

// mapping walks a free-form string-keyed mapping.
func (w *walker) mapping(n *yaml.Node, path string, each func(key string, v *yaml.Node, field string)) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		w.errf(n, path, "must be a mapping (key: value)")
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		field := path + "." + k.Value
		if first, dup := seen[k.Value]; dup {
			w.errf(k, field, "set twice (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		w.lines[field] = k.Line
		each(k.Value, v, field)
	}
}

func (w *walker) seq(n *yaml.Node, path string, each func(v *yaml.Node, field string)) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		w.errf(n, path, "must be a list")
		return
	}
	for i, v := range n.Content {
		f := fmt.Sprintf("%s[%d]", path, i)
		v = resolveAlias(v)
		w.lines[f] = v.Line
		each(v, f)
	}
}

func (w *walker) scalar(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		w.errf(n, field, "must be a single value, not a list or mapping")
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	return strings.TrimSpace(n.Value), true
}

func (w *walker) str(n *yaml.Node, field string, dst *string) bool {
	s, ok := w.scalar(n, field)
	if ok {
		*dst = s
	}
	return ok
}

func (w *walker) strings(n *yaml.Node, field string, dst *[]string) {
	*dst = nil
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		w.errf(n, field, "must be a list ([a.yaml, b.csv] or one \"- item\" a line)")
		return
	}
	w.seq(n, field, func(v *yaml.Node, f string) {
		var s string
		if w.str(v, f, &s) {
			*dst = append(*dst, s)
		}
	})
}

var digits = regexp.MustCompile(`^[+-]?[0-9_]+$`)

func (w *walker) integer(n *yaml.Node, field string, dst *int) bool {
	s, ok := w.scalar(n, field)
	if !ok {
		return false
	}
	if !digits.MatchString(s) {
		w.errf(n, field, "%q is not a whole number", s)
		return false
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil || v > math.MaxInt32 || v < math.MinInt32 {
		w.errf(n, field, "%q is out of range", s)
		return false
	}
	*dst = int(v)
	return true
}

func (w *walker) uint32(n *yaml.Node, field string, dst *uint32) bool {
	var v int
	if !w.integer(n, field, &v) {
		return false
	}
	if v < 1 {
		w.errf(n, field, "%d must be at least 1", v)
		return false
	}
	*dst = uint32(v)
	return true
}

func (w *walker) duration(n *yaml.Node, field string, dst *time.Duration) bool {
	s, ok := w.scalar(n, field)
	if !ok {
		return false
	}
	d, err := ParseDuration(s)
	if err != nil {
		w.errf(n, field, "%v", err)
		return false
	}
	*dst = d
	return true
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlSyntaxError(name string, err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: name, Line: line, Field: "syntax", Msg: m[2]}
	}
	return &Error{File: name, Field: "syntax", Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
}
