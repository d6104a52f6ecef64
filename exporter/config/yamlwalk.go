package config

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/minewatch/minewatch/exporter/yamlcheck"
)

// Error is one configuration problem, located by file, line and field.
type Error = yamlcheck.Error

// walker adds the configuration's value types to yamlcheck's walker.
type walker struct{ *yamlcheck.Walker }

func (w walker) errf(n *yaml.Node, field, format string, args ...any) {
	w.Errf(n, field, format, args...)
}

func isNull(n *yaml.Node) bool { return yamlcheck.IsNull(n) }

func (w walker) fields(n *yaml.Node, path string, known []string, each func(key string, v *yaml.Node, field string)) {
	w.Fields(n, path, known, each)
}

func (w walker) mapping(n *yaml.Node, path string, each func(key string, v *yaml.Node, field string)) {
	w.Mapping(n, path, each)
}

func (w walker) seq(n *yaml.Node, path string, each func(v *yaml.Node, field string)) {
	w.Seq(n, path, func(_ int, v *yaml.Node, f string) { each(v, f) })
}

func (w walker) scalar(n *yaml.Node, field string) (string, bool) { return w.Scalar(n, field) }

func (w walker) str(n *yaml.Node, field string, dst *string) bool {
	s, ok := w.scalar(n, field)
	if ok {
		*dst = s
	}
	return ok
}

func (w walker) strings(n *yaml.Node, field string, dst *[]string) {
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

func (w walker) integer(n *yaml.Node, field string, dst *int) bool {
	v, ok := w.AnyInt(n, field)
	if ok {
		*dst = v
	}
	return ok
}

func (w walker) uint32(n *yaml.Node, field string, dst *uint32) bool {
	v, ok := w.AnyInt(n, field)
	if !ok {
		return false
	}
	if v < 1 {
		w.errf(n, field, "%d must be at least 1", v)
		return false
	}
	*dst = uint32(v)
	return true
}

func (w walker) duration(n *yaml.Node, field string, dst *time.Duration) bool {
	d, ok := w.Duration(n, field, 0)
	if ok {
		*dst = d
	}
	return ok
}

func (w walker) boolean(n *yaml.Node, field string, dst *bool) bool {
	b, ok := w.Bool(n, field)
	if ok {
		*dst = b
	}
	return ok
}

func yamlSyntaxError(name string, err error) error { return yamlcheck.SyntaxError(name, err) }
