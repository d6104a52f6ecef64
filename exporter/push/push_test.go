package push

import "testing"

func TestLabelsSortedAndQuoted(t *testing.T) {
	got := labels(map[string]string{"site": `no."1"`, "bureau": "hd"})
	if want := `bureau="hd",site="no.\"1\""`; got != want {
		t.Fatalf("labels = %s, want %s", got, want)
	}
	if got := labels(nil); got != "" {
		t.Fatalf("labels(nil) = %q", got)
	}
}
