// Package yamlcheck walks YAML documents the way people who keep the files
// need: every problem is collected (not only the first), each names the file,
// the line and the field, unknown and repeated keys are errors, and the line
// of every field read is remembered for later checks.
package yamlcheck

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem, located by file, line and field.
type Error struct {
	File  string // "" when the value did not come from a file
	Line  int    // 0 when unknown
	Field string // e.g. units[2].cidrs[0], or a CSV column
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Walker decodes YAML nodes field by field, collecting problems in Errs and,
// when Lines is not nil, the line of every field it visits.
type Walker struct {
	File  string
	Lines map[string]int
	Errs  []error
}

// Errf records a problem at node n (nil: line unknown).
func (w *Walker) Errf(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	w.Errs = append(w.Errs, &Error{File: w.File, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (w *Walker) mark(field string, line int) {
	if w.Lines != nil {
		w.Lines[field] = line
	}
}

// Resolve follows YAML aliases.
func Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// IsNull says whether n is absent or an explicit null.
func IsNull(n *yaml.Node) bool { return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// Fields walks a mapping of known keys, rejecting unknown and repeated ones.
func (w *Walker) Fields(n *yaml.Node, path string, known []string, each func(key string, v *yaml.Node, field string)) {
	n = Resolve(n)
	if IsNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		name := path
		if name == "" {
			name = "top level"
		}
		w.Errf(n, name, "must be a mapping (key: value)")
		return
	}
	w.pairs(n, path, func(k, v *yaml.Node, field string) {
		if !slices.Contains(known, k.Value) {
			w.Errf(k, field, "unknown field (known: %s)", strings.Join(known, ", "))
			return
		}
		w.mark(field, v.Line)
		each(k.Value, v, field)
	})
}

// Mapping walks a free-form string-keyed mapping, rejecting repeated keys.
func (w *Walker) Mapping(n *yaml.Node, path string, each func(key string, v *yaml.Node, field string)) {
	n = Resolve(n)
	if IsNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		w.Errf(n, path, "must be a mapping (key: value)")
		return
	}
	w.pairs(n, path, func(k, v *yaml.Node, field string) {
		w.mark(field, k.Line)
		each(k.Value, v, field)
	})
}

func (w *Walker) pairs(n *yaml.Node, path string, each func(k, v *yaml.Node, field string)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], Resolve(n.Content[i+1])
		field := k.Value
		if path != "" {
			field = path + "." + k.Value
		}
		if first, dup := seen[k.Value]; dup {
			w.Errf(k, field, "set twice (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		each(k, v, field)
	}
}

// Seq walks a sequence.
func (w *Walker) Seq(n *yaml.Node, path string, each func(i int, v *yaml.Node, field string)) {
	n = Resolve(n)
	if IsNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		w.Errf(n, path, "must be a list")
		return
	}
	for i, v := range n.Content {
		f := fmt.Sprintf("%s[%d]", path, i)
		v = Resolve(v)
		w.mark(f, v.Line)
		each(i, v, f)
	}
}

// Scalar reads a single value as trimmed text; null is "". ok is false (and
// a problem recorded) for a list or mapping.
func (w *Walker) Scalar(n *yaml.Node, field string) (s string, ok bool) {
	if IsNull(n) {
		return "", true
	}
	if n.Kind != yaml.ScalarNode {
		w.Errf(n, field, "must be a single value, not a list or mapping")
		return "", false
	}
	return strings.TrimSpace(n.Value), true
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// SyntaxError turns yaml.v3's parse error into an Error with the line.
func SyntaxError(name string, err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: name, Line: line, Field: "syntax", Msg: m[2]}
	}
	return &Error{File: name, Field: "syntax", Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
}
