// Package storetest makes real case stores (SQLite files in the test's
// temporary directory) holding seeded dispositions, for tests of what reads
// them: the tracker, the review, the datasource.
package storetest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
)

// Seeder is the author of seeded records.
var Seeder = casestore.Author{Login: "seed", Role: "operator", Via: casestore.ViaCLI}

// Seeded opens a new SQLite case store in t.TempDir() and records ds, each at
// its own time; it returns the open store and its path. The store is closed
// when the test ends.
func Seeded(t testing.TB, ds []vmtest.Disposal) (*casestore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cases.db")
	st, err := casestore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	Record(t, st, ds)
	return st, path
}

// Record records ds in st, each at its own time.
func Record(t testing.TB, st *casestore.Store, ds []vmtest.Disposal) {
	t.Helper()
	clock := st.Now
	defer func() { st.Now = clock }()
	for _, d := range ds {
		at := d.At
		st.Now = func() time.Time { return at }
		if _, err := st.Record(context.Background(), casestore.NewDisposition{IP: d.IP, Unit: d.Unit, Stage: d.Stage, Class: d.Class, Note: d.Note}, Seeder); err != nil {
			t.Fatal(err)
		}
	}
}

// Campaign is a store holding the seeded campaign's dispositions.
func Campaign(t testing.TB) (*casestore.Store, string) {
	return Seeded(t, vmtest.CampaignDispositions())
}
