package main

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/minewatch/minewatch/exporter/testsupport"
)

// TestDemoStartToFinish runs the native demo the way `make demo` does, on the
// shipped school week with a shortened live part, with the real Debian
// VictoriaMetrics, vmalert and Alertmanager. The weekly review and tracker it
// prints must hold every miner it says it can confirm, its count of planted
// miners must add up, and the unit lead must get an email.
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

	// Every miner the demo says it can confirm must be in the tracker as
	// mining (or quiet, its episode over); the planted ones it says only the
	// active prober could confirm (off in the demo) must not be, and the
	// history must hold them as suspects.
	truth := regexp.MustCompile(`ground truth: \d+ hosts, 布设矿机 (\d+) miners planted, 其中可确认 (\d+) confirmable: (.*)`).FindStringSubmatch(text)
	if truth == nil || truth[2] == "0" {
		t.Fatalf("no ground truth line with confirmable miners in the demo's output:\n%s", text)
	}
	review := section(text, "周研判 weekly review", "IP清零台账")
	total := regexp.MustCompile(`(?m)^total\s+合计\s+(\d+)\s+(\d+)`).FindStringSubmatch(review)
	if total == nil || total[1] == "0" || total[2] == "0" {
		t.Errorf("weekly review has no mining or new IPs in its total row:\n%s", review)
	}
	tracker := section(text, "IP清零台账", "告警邮件")
	inTracker := func(ip string) bool {
		return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(ip) + `\s.*(挖矿中|静默观察)`).MatchString(tracker)
	}
	found := 0
	for _, m := range strings.Split(truth[3], ", ") {
		if ip := strings.Fields(m)[0]; inTracker(ip) {
			found++
		} else {
			t.Errorf("%s: the demo says it can confirm this miner, the tracker does not hold it", m)
		}
	}
	probeOnly := 0
	if m := regexp.MustCompile(`需主动探测才能确认 (\d+) need the active prober`).FindStringSubmatch(text); m != nil {
		probeOnly, _ = strconv.Atoi(m[1])
	}
	planted, _ := strconv.Atoi(truth[1])
	confirmable, _ := strconv.Atoi(truth[2])
	if found != confirmable || confirmable+probeOnly != planted {
		t.Errorf("planted %d = confirmable %d + prober-only %d? tracker holds %d of the confirmable", planted, confirmable, probeOnly, found)
	}
	hist := regexp.MustCompile(`(?m)^  (\S+): 可疑 suspect (\d+) h, 确认 confirmed (\d+) h`).FindAllStringSubmatch(text, -1)
	if len(hist) != probeOnly {
		t.Errorf("%d prober-only miners, %d history lines:\n%s", probeOnly, len(hist), text)
	}
	for _, h := range hist {
		if h[2] == "0" || h[3] != "0" || inTracker(h[1]) {
			t.Errorf("%s needs the prober: want a suspect never confirmed and not in the tracker, got %q (in tracker: %v)", h[1], h[0], inTracker(h[1]))
		}
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
	t.Logf("demo: %d of %d confirmable miners in the tracker (%d planted, %d need the prober), %s emails", found, confirmable, planted, probeOnly, mails[1])
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
