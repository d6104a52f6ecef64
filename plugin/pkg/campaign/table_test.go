package campaign

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func fieldsOf(qt string) []Field {
	switch qt {
	case "tracker", "":
		return TrackerTable(nil).Fields
	case "weekly_review": // and the datasource's link column
		return append(ReviewTable(nil).Fields, Field{UnitLinkKey, UnitLinkHeader, KindString})
	case "pools":
		return PoolTable(nil).Fields
	}
	return nil
}

// TestColumnKeysUniqueAndTyped: keys are unique, and each cell has the Go
// type its kind promises (what the frames and renderers rely on).
func TestColumnKeysUniqueAndTyped(t *testing.T) {
	row := TrackerRow{IP: "10.0.0.1", FirstFlagged: time.Now()}
	for name, tb := range map[string]Table{"tracker": TrackerTable([]TrackerRow{row}), "review": ReviewTable([]ReviewRow{{}}), "pools": PoolTable([]PoolRow{{}})} {
		seen := map[string]bool{}
		for i, f := range tb.Fields {
			if seen[f.Key] {
				t.Errorf("%s: key %q twice", name, f.Key)
			}
			seen[f.Key] = true
			ok := false
			switch tb.Rows[0][i].(type) {
			case string:
				ok = f.Kind == KindString
			case time.Time:
				ok = f.Kind == KindTime
			case float64:
				ok = f.Kind == KindFloat
			case int:
				ok = f.Kind == KindInt
			case bool:
				ok = f.Kind == KindBool
			}
			if !ok {
				t.Errorf("%s: column %s kind %d holds %T", name, f.Key, f.Kind, tb.Rows[0][i])
			}
		}
		if v, err := tb.Cell(0, tb.Fields[0].Key); err != nil || v != tb.Rows[0][0] {
			t.Errorf("%s: Cell by key: %v %v", name, v, err)
		}
		if _, err := tb.Cell(0, "no_such_key"); err == nil {
			t.Errorf("%s: a missing key gave no error", name)
		}
	}
}

var alternatives = regexp.MustCompile(`^\^\((.*)\)\$$`)

// TestDashboardOverridesUseColumnKeys: every field override and organize
// transformation of a dashboard panel on a campaign table names a column of
// that table, by key (or by its header), so renaming a key breaks this test
// and not, silently, the dashboard.
func TestDashboardOverridesUseColumnKeys(t *testing.T) {
	paths, _ := filepath.Glob("../../../dashboards/*.json")
	if len(paths) == 0 {
		t.Fatal("no dashboards found")
	}
	checked := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []panel `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var all []panel
		for _, pn := range d.Panels {
			all = append(all, pn)
			all = append(all, pn.Panels...)
		}
		for _, pn := range all {
			qt, ok := pn.campaignQuery()
			if !ok {
				continue
			}
			known := map[string]bool{}
			for _, f := range fieldsOf(qt) {
				known[f.Key], known[f.Header] = true, true
				// the header a running week gives these columns (ReviewTableOf)
				switch f.Key {
				case "mining_at_end":
					known[RunningHeader] = true
				case "mining_devices_at_end":
					known[RunningDeviceHeader] = true
				}
			}
			check := func(name string) {
				checked++
				if !known[name] {
					t.Errorf("%s: panel %q (%s) refers to column %q, which the table has not", filepath.Base(p), pn.Title, qt, name)
				}
			}
			for _, o := range pn.FieldConfig.Overrides {
				var opt string
				json.Unmarshal(o.Matcher.Options, &opt) //nolint:errcheck // byNames' options are an object, read below
				switch o.Matcher.ID {
				case "byName":
					check(opt)
				case "byNames":
					var names struct {
						Names []string `json:"names"`
					}
					if err := json.Unmarshal(o.Matcher.Options, &names); err != nil || len(names.Names) == 0 {
						t.Errorf("%s: panel %q: byNames override without names: %s", filepath.Base(p), pn.Title, o.Matcher.Options)
					}
					for _, n := range names.Names {
						check(n)
					}
				case "byRegexp":
					m := alternatives.FindStringSubmatch(opt)
					if m == nil {
						t.Errorf("%s: panel %q: regexp override %q is not ^(key|…)$", filepath.Base(p), pn.Title, opt)
						continue
					}
					for _, n := range strings.Split(m[1], "|") {
						check(n)
					}
				}
			}
			for _, tr := range pn.Transformations {
				for _, group := range []map[string]any{tr.Options.ExcludeByName, tr.Options.IndexByName, tr.Options.RenameByName} {
					for n := range group {
						check(n)
					}
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d column references checked: the dashboard parsing is broken", checked)
	}
	t.Logf("%d column references checked", checked)
}

type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		QueryType  string `json:"queryType"`
		Datasource struct {
			Type string `json:"type"`
		} `json:"datasource"`
	} `json:"targets"`
	FieldConfig struct {
		Overrides []struct {
			Matcher struct {
				ID      string          `json:"id"`
				Options json.RawMessage `json:"options"` // a name, a regexp, or byNames' {mode, names}
			} `json:"matcher"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
	Transformations []struct {
		ID      string `json:"id"`
		Options struct {
			ExcludeByName map[string]any `json:"excludeByName"`
			IndexByName   map[string]any `json:"indexByName"`
			RenameByName  map[string]any `json:"renameByName"`
		} `json:"options"`
	} `json:"transformations"`
}

// campaignQuery is the query type of a panel that shows one campaign table.
func (p panel) campaignQuery() (string, bool) {
	if len(p.Targets) != 1 {
		return "", false
	}
	qt := p.Targets[0].QueryType
	if p.Targets[0].Datasource.Type != "minewatch-mining-datasource" || fieldsOf(qt) == nil {
		return "", false
	}
	return qt, true
}
