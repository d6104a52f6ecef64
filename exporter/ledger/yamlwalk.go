package ledger

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/minewatch/minewatch/exporter/yamlcheck"
)

// Error is one problem in a ledger file, located by file, line and field so
// that whoever keeps the spreadsheet can find it.
type Error = yamlcheck.Error

// walker adds the ledger's value types to yamlcheck's walker.
type walker struct{ *yamlcheck.Walker }

func (w walker) errf(n *yaml.Node, field, format string, args ...any) {
	w.Errf(n, field, format, args...)
}

func (w walker) fields(n *yaml.Node, path string, known []string, each func(key string, v *yaml.Node, field string)) {
	w.Fields(n, path, known, each)
}

func (w walker) seq(n *yaml.Node, path string, each func(i int, v *yaml.Node, field string)) {
	w.Seq(n, path, each)
}

// str reads a scalar as text; null is "".
func (w walker) str(n *yaml.Node, field string) string {
	s, _ := w.Scalar(n, field)
	return s
}

// boolean reads true/false (and the yes/no, 是/否 people write in spreadsheets).
func (w walker) boolean(n *yaml.Node, field string) bool {
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
