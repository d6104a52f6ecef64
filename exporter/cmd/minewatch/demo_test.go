package main

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/minewatch/minewatch/exporter/testsupport"
)

// TestDemoStartToFinish runs the native demo the way `make demo` does, on the
// shipped school week with a shortened live part, with the real Debian
// VictoriaMetrics, vmalert and Alertmanager. The weekly review it prints must
// hold the simulator's miners, and the unit lead must get an email.
func TestDemoStartToFinish(t *testing.T) {
	for _, bin := range [][]string{{"victoria-metrics"}, {"vmalert"}, {"prometheus-alertmanager", "alertmanager"}} {
		testsupport.Require(t, bin...)
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	exe := minewatchExe(t)
	work := t.TempDir()
	cmd := exec.Command(exe, "demo", "--workdir", filepath.Join(work, "demo"), "--live", "6m", "--wait-mail", "5m", "--exit-after", "1s")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, text)
	}

	// Miners from the ground-truth line must appear in the current week's review
	// and in the tracker as mining.
	truth := regexp.MustCompile(`ground truth: \d+ hosts, (\d+) miners: (.*)`).FindStringSubmatch(text)
	if truth == nil || truth[1] == "0" {
		t.Fatalf("no ground truth line with miners in the demo's output:\n%s", text)
	}
	review := section(text, "周研判 weekly review", "IP清零台账")
	total := regexp.MustCompile(`(?m)^total\s+合计\s+(\d+)\s+(\d+)`).FindStringSubmatch(review)
	if total == nil || total[1] == "0" || total[2] == "0" {
		t.Errorf("weekly review has no mining or new IPs in its total row:\n%s", review)
	}
	tracker := section(text, "IP清零台账", "告警邮件")
	found := 0
	for _, m := range strings.Split(truth[2], ", ") {
		ip := strings.Fields(m)[0]
		if regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(ip) + `\s.*(挖矿中|静默观察)`).MatchString(tracker) {
			found++
		}
	}
	if found == 0 {
		t.Errorf("none of the simulated miners (%s) is in the tracker:\n%s", truth[2], tracker)
	}
	mails := regexp.MustCompile(`emails received: (\d+)`).FindStringSubmatch(text)
	if mails == nil || mails[1] == "0" || !strings.Contains(text, "to lead@") {
		t.Errorf("no alert email reached a unit lead:\n%s", section(text, "告警邮件", "服务地址"))
	}
	// Every IP of every email reads as the tracker did when the email came:
	// state, highest score and deadlines (the demo checks each block).
	agree := regexp.MustCompile(`emails against the tracker: (\d+) IPs checked, (\d+) disagreements`).FindStringSubmatch(text)
	if agree == nil || agree[1] == "0" || agree[2] != "0" {
		t.Errorf("emails and tracker disagree (or nothing was checked):\n%s", section(text, "告警邮件", "服务地址"))
	}
	t.Logf("demo: %d of %s simulated miners in the tracker, %s emails", found, truth[1], mails[1])
}

// section returns the lines of text from the first line containing from up
// to the first later line containing to.
func section(text, from, to string) string {
	var b strings.Builder
	in := false
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !in && strings.Contains(l, from) {
			in = true
		} else if in && strings.Contains(l, to) {
			break
		}
		if in {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
