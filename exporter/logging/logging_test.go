package logging

import (
	"bytes"
	"strings"
	"testing"
)

func TestNewWritesAtLevelAndFormat(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(Configuration{Level: "warn", Format: "json"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) {
		t.Fatalf("output = %s", out)
	}
}

func TestDefaultsAreValidAndBadValuesNamed(t *testing.T) {
	if l, f := DefaultConfiguration().Validate(); l != nil || f != nil {
		t.Fatalf("defaults invalid: %v %v", l, f)
	}
	l, f := Configuration{Level: "loud", Format: "xml"}.Validate()
	if l == nil || f == nil || !strings.Contains(l.Error(), "debug") || !strings.Contains(f.Error(), "logfmt") {
		t.Fatalf("errors = %v, %v", l, f)
	}
	if _, err := New(Configuration{Level: "loud", Format: "logfmt"}, nil); err == nil {
		t.Fatal("New accepted a bad level")
	}
}
