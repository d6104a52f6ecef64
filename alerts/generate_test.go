package alerts

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/testsupport"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"gopkg.in/yaml.v3"
)

var updateRules = flag.Bool("update-rules", false, "rewrite rules/cases.yml from the campaign definition")

// TestShippedRulesAreGenerated fails when rules/cases.yml is not what the
// campaign definition generates (go test ./alerts -run TestShippedRulesAreGenerated -update-rules).
func TestShippedRulesAreGenerated(t *testing.T) {
	want, err := CaseRules(Live)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("rules", CaseRulesFile)
	if *updateRules {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from alerts.CaseRules(Live): regenerate it (go test ./alerts -run TestShippedRulesAreGenerated -update-rules)", path)
	}
}

// TestRulesFollowTheDefinition: the numbers of the definition appear in the
// generated rules, and the zone has one offset over the years the rules see.
func TestRulesFollowTheDefinition(t *testing.T) {
	b, err := CaseRules(Live)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"+ 172800 > time()", "+ 259200 <= time()", "[604800s]", "[31536000s] offset 3600s", ">= 2\n", "interval: 3600s"} {
		if !strings.Contains(s, want) {
			t.Errorf("generated rules lack %q", want)
		}
	}
	for y := 2000; y <= 2100; y++ {
		for _, m := range []time.Month{1, 7} {
			if _, off := time.Date(y, m, 1, 0, 0, 0, 0, campaign.Location()).Zone(); int64(off) != zoneOffset() {
				t.Fatalf("%s has offset %d in %d-%02d, the rules assume %d", campaign.TimeZone, off, y, m, zoneOffset())
			}
		}
	}
}

// TestReplayFlavorIsTheSameRules: the replay rules differ from the live ones
// only by the annotations that query, and vmalert accepts them.
func TestReplayFlavorIsTheSameRules(t *testing.T) {
	live, err := CaseRules(Live)
	if err != nil {
		t.Fatal(err)
	}
	replay, err := CaseRules(Replay)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(replay, []byte("query ")) {
		t.Error("replay rules still run template queries")
	}
	parse := func(b []byte) ruleFile {
		var rf ruleFile
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatal(err)
		}
		return rf
	}
	l, r := parse(live), parse(replay)
	if len(l.Groups) != len(r.Groups) {
		t.Fatalf("groups %d vs %d", len(l.Groups), len(r.Groups))
	}
	for i := range l.Groups {
		for j := range l.Groups[i].Rules {
			a, b := l.Groups[i].Rules[j], r.Groups[i].Rules[j]
			if a.Record != b.Record || a.Alert != b.Alert || a.Expr != b.Expr || len(a.Labels) != len(b.Labels) {
				t.Errorf("rule %s%s differs between flavours", a.Record, a.Alert)
			}
		}
	}
	vmalert := testsupport.Require(t, "vmalert")
	f := filepath.Join(t.TempDir(), "cases-replay.yml")
	if err := os.WriteFile(f, replay, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(vmalert, "-rule="+f, "-dryRun", "-loggerLevel=ERROR").CombinedOutput(); err != nil {
		t.Fatalf("vmalert -dryRun: %v\n%s", err, out)
	}
}

// TestWriteRules: the rules `minewatch alerts render` writes are the generated ones, mode 0600.
func TestWriteRules(t *testing.T) {
	dir := t.TempDir()
	paths, err := WriteRules(dir)
	if err != nil || len(paths) != 2 {
		t.Fatalf("%v %v", paths, err)
	}
	want, _ := CaseRules(Live)
	got, err := os.ReadFile(filepath.Join(dir, CaseRulesFile))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("written cases.yml differs from the generated rules (%v)", err)
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != FileMode {
			t.Errorf("%s: %v %v", p, fi.Mode(), err)
		}
	}
}
