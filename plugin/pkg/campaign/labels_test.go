package campaign

import (
	"strings"
	"testing"
	"unicode"

	"github.com/minewatch/minewatch/exporter/ledger"
)

// TestKindLabels: every asset kind the ledger allows reads Chinese first, the
// code after, in the datasource's mappings as in KindLabel; so a kind added
// to the ledger without a label here fails.
func TestKindLabels(t *testing.T) {
	m := CodeLabels("kind")
	if len(m) != len(ledger.Kinds) {
		t.Errorf("%d kinds labelled, the ledger allows %d (%v)", len(m), len(ledger.Kinds), ledger.Kinds)
	}
	for _, k := range ledger.Kinds {
		l := KindLabel(k)
		first := []rune(l)[0]
		if !unicode.Is(unicode.Han, first) || !strings.HasSuffix(l, " "+k) {
			t.Errorf("kind %s reads %q, want Chinese first and the code after", k, l)
		}
		if m[k] != l {
			t.Errorf("kind %s: mapping %q, label %q", k, m[k], l)
		}
	}
	if got := KindLabel("laptop"); got != "laptop" {
		t.Errorf("an unknown kind reads %q, want it as is", got)
	}
}
