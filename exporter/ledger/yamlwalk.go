package ledger

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a ledger file, located by file, line and field so
// that whoever keeps the spreadsheet can find it.
type Error struct {
	File  string
	Line  int    // 0 when unknown
	Field string // e.g. units[2].cidrs[0], or a CSV column
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// walker collects every problem of a YAML document instead of stopping at the first.
type walker struct {
	file string
	errs []error
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

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// fields walks a mapping, rejecting unknown and repeated keys.
func (w *walker) fields(n *yaml.Node, path string, known []string, each func(key string, v *yaml.Node, field string)) {
	n = resolveAlias(n)
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
		each(k.Value, v, field)
	}
}

// seq walks a sequence.
func (w *walker) seq(n *yaml.Node, path string, each func(i int, v *yaml.Node, field string)) {
	n = resolveAlias(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		w.errf(n, path, "must be a list")
		return
	}
	for i, v := range n.Content {
		each(i, resolveAlias(v), fmt.Sprintf("%s[%d]", path, i))
	}
}

// str reads a scalar as text; null is "".
func (w *walker) str(n *yaml.Node, field string) string {
	if isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		w.errf(n, field, "must be a single value, not a list or mapping")
		return ""
	}
	return strings.TrimSpace(n.Value)
}

// boolean reads true/false (and the yes/no, 是/否 people write in spreadsheets).
func (w *walker) boolean(n *yaml.Node, field string) bool {
	s := w.str(n, field)
	if s == "" {
		return false
	}
	b, ok := parseBool(s)
	if !ok {
		w.errf(n, field, "%q must be true or false", s)
	}
	return b
}

func parseBool(s string) (v, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "false", "no", "n", "0", "否", "f":
		return false, true
	case "true", "yes", "y", "1", "是", "t":
		return true, true
	}
	return false, false
}
