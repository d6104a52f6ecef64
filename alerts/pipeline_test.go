package alerts

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/exporter/testsupport"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
)

// startProcess runs a server binary until the test ends and waits for its ready URL.
func startProcess(t *testing.T, ready string, bin string, args ...string) {
	t.Helper()
	var logs bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", filepath.Base(bin), tail(logs.String(), 3000))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready at %s:\n%s", bin, ready, logs.String())
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestRulesThroughVmalertToEmail runs the whole alert path on real parts: series in
// VictoriaMetrics, the repository's case rules in vmalert (episode state recorded by
// the rules themselves, annotations filled by vmalert's template queries), the
// rendered configuration in Alertmanager, and the email in an SMTP catcher.
// Group intervals are shortened to 5s so that the test takes seconds (vmalert starts an
// hourly group at a random moment within the hour).
//
// Its rounds are therefore off the hour, as the demo's are, and a second host shows
// what that means for 当前状态: 10.30.0.9 was flagged up to just before the current
// hour H and not since. At a round T in (H, H+1h) the tracker's bucket containing T is
// empty: the email must say 静默观察 (a sliding hour before T said 挖矿中). The state
// of both hosts is checked against the bucket of the email's own 数据时间.
func TestRulesThroughVmalertToEmail(t *testing.T) {
	t.Parallel()
	vmBin := testsupport.Require(t, "victoria-metrics")
	vmalertBin := testsupport.Require(t, "vmalert")
	smtpCatcher, smtpAddr := startCatcher(t)

	vm := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	startProcess(t, vm+"/health", vmBin,
		"-storageDataPath="+t.TempDir(), "-httpListenAddr="+strings.TrimPrefix(vm, "http://"),
		"-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=ERROR")

	o := testOptions()
	o.Smarthost = smtpAddr
	o.GroupWait = time.Second
	cfg := filepath.Join(t.TempDir(), "alertmanager.yml")
	r, err := Render(ledgerUnits(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteFiles(cfg); err != nil {
		t.Fatal(err)
	}
	am := startAlertmanager(t, cfg)

	// 10.30.0.9's flags lie in the bucket before the current one and within the hour
	// before the rounds (its alert fires only then); in the last two minutes of an
	// hour, the rounds could come too late: wait for the next hour.
	if m := time.Since(time.Now().Truncate(campaign.Bucket)); m > campaign.Bucket-2*time.Minute {
		time.Sleep(campaign.Bucket - m + 5*time.Second)
	}
	hour := time.Now().Truncate(campaign.Bucket)
	var past strings.Builder
	for ts := hour.Add(-10 * time.Minute); ts.Before(hour); ts = ts.Add(10 * time.Second) {
		fmt.Fprintf(&past, "minewatch_host_mining{ip=\"10.30.0.9\",unit=\"zd-no2-primary\",class=\"passive\"} 1 %d\n", ts.UnixMilli())
	}
	lastFlag := hour.Add(-10 * time.Second)
	if resp, err := http.Post(vm+"/api/v1/import/prometheus", "text/plain", strings.NewReader(past.String())); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode/100 != 2 {
		t.Fatalf("import: %s", resp.Status)
	}

	// The exporter's series for one mining host and one that stopped, written every 500 ms.
	series := `minewatch_host_mining{ip="10.20.3.21",unit="zd-no1-middle",class="active"} 1
minewatch_host_mining{ip="10.30.0.9",unit="zd-no2-primary",class="passive"} 0
minewatch_host_score{ip="10.20.3.21",unit="zd-no1-middle"} 87
minewatch_host_signal_points{ip="10.20.3.21",unit="zd-no1-middle",signal="pool_contact"} 40
minewatch_host_signal_points{ip="10.20.3.21",unit="zd-no1-middle",signal="stratum_profile"} 30
minewatch_host_info{ip="10.20.3.21",unit="zd-no1-middle",asset="实验楼301 GPU工作站",kind="gpu-workstation",location="实验楼301",department="信息中心",owner="李老师",research="false"} 1
minewatch_unit_info{unit="zd-no1-middle",name="郑东新区第一中学",sector="school",parent="zd-edu"} 1
`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	push := func() error {
		resp, err := http.Post(vm+"/api/v1/import/prometheus", "text/plain", strings.NewReader(series))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("import: %s", resp.Status)
		}
		return nil
	}
	if err := push(); err != nil {
		t.Fatal(err)
	}
	go func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				push()
			}
		}
	}()

	b, err := os.ReadFile("rules/cases.yml")
	if err != nil {
		t.Fatal(err)
	}
	fast := regexp.MustCompile(`(?m)^(\s+interval:) (1m|3600s)$`).ReplaceAll(b, []byte("$1 5s"))
	vmalertStart := time.Now()
	rules := filepath.Join(t.TempDir(), "cases.yml")
	if err := os.WriteFile(rules, fast, 0o644); err != nil {
		t.Fatal(err)
	}
	vmalertAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startProcess(t, "http://"+vmalertAddr+"/health", vmalertBin,
		"-rule="+rules, "-datasource.url="+vm, "-remoteWrite.url="+vm, "-notifier.url="+am,
		"-remoteWrite.flushInterval=200ms", "-httpListenAddr="+vmalertAddr, "-loggerLevel=ERROR")

	msgs := waitFor(t, smtpCatcher, 2)
	if len(msgs) != 2 {
		t.Fatalf("got %d emails, want exactly 2 (one per unit)", len(msgs))
	}
	byLead := map[string]decoded{}
	for _, m := range msgs {
		if len(m.To) != 1 {
			t.Fatalf("email to %v, want one unit lead", m.To)
		}
		byLead[m.To[0]] = decode(t, m.Data)
	}
	d, ok := byLead["lead@no1.example.edu.cn"]
	if !ok {
		t.Fatalf("no email to the lead of zd-no1-middle (got %v)", byLead)
	}
	t.Logf("subject: %s\ntext:\n%s", d.Subject, d.Text)
	stopped, ok := byLead["lead@no2.example.edu.cn"]
	if !ok {
		t.Fatalf("no email to the lead of zd-no2-primary (got %v)", byLead)
	}
	t.Logf("subject: %s\ntext:\n%s", stopped.Subject, stopped.Text)

	// 当前状态 as of 数据时间 T, in the text and HTML parts: mining exactly when the host has
	// a flag in (BucketEnd(T)-1h, BucketEnd(T)] (campaign.StateAt's "mining now").
	// 10.20.3.21 is flagged up to now; 10.30.0.9 last at lastFlag.
	for _, c := range []struct {
		mail     decoded
		lastFlag time.Time
	}{{d, time.Now()}, {stopped, lastFlag}} {
		dt := regexp.MustCompile(`数据时间：(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)（北京时间）`).FindStringSubmatch(c.mail.Text)
		if dt == nil {
			t.Fatalf("email has no 数据时间:\n%s", c.mail.Text)
		}
		T, err := time.ParseInLocation("2006-01-02 15:04:05", dt[1], campaign.Location())
		if err != nil {
			t.Fatal(err)
		}
		if T.Before(vmalertStart.Add(-5*time.Second)) || T.After(time.Now()) {
			t.Errorf("数据时间 %s is not a round of this vmalert (started %v)", dt[1], vmalertStart)
		}
		end := campaign.BucketEnd(T, campaign.Bucket)
		want := campaign.StateLabel(campaign.StateQuiet)
		if c.lastFlag.After(end.Add(-campaign.Bucket)) {
			want = campaign.StateLabel(campaign.StateMining)
		}
		got := regexp.MustCompile(`当前状态：(\S+)`).FindStringSubmatch(c.mail.Text)
		if got == nil || got[1] != want || !strings.Contains(c.mail.HTML, "<td>当前状态</td><td>"+want+"</td>") {
			t.Errorf("%s: as of %s (bucket ending %s) the state is %s; email:\n%s\n%s", c.mail.Subject, dt[1],
				end.In(campaign.Location()).Format("15:04"), want, c.mail.Text, c.mail.HTML)
		}
		if !strings.Contains(c.mail.HTML, "<td>数据时间</td><td>"+dt[1]+"（北京时间）</td>") {
			t.Errorf("%s: HTML part lacks 数据时间 %s", c.mail.Subject, dt[1])
		}
	}

	// With the hourly group run every 5s, each round T sees a bucket (T-1h, T] with the
	// host's first flags and nothing before: the episode starts at T-1h of the round that
	// fired. The deadline in the email is that start + 48 h, in Beijing time.
	m := regexp.MustCompile(`处置期限：(\d{4}-\d\d-\d\d \d\d:\d\d)（北京时间`).FindStringSubmatch(d.Text)
	if m == nil {
		t.Fatalf("email has no deadline:\n%s", d.Text)
	}
	dl, err := time.ParseInLocation("2006-01-02 15:04", m[1], campaign.Location()) // emails print minutes, as the tracker does
	if err != nil {
		t.Fatal(err)
	}
	round := dl.Add(-campaign.LocateDeadline).Add(campaign.Bucket)
	// vmalert picks the moment of its rounds (its first one need not be on a
	// multiple of the interval; seen in CI): the round only has to lie within
	// this vmalert's life, to the minute the email prints.
	if round.Before(vmalertStart.Truncate(time.Minute).Add(-5*time.Second)) || round.After(time.Now()) {
		t.Errorf("deadline %s: start + 1 h = %v is not a round between vmalert's start %v and now", m[1], round, vmalertStart)
	}
	deadline := m[1]
	if d.Subject != "【挖矿告警】新增挖矿IP 10.20.3.21（郑东新区第一中学）" {
		t.Errorf("subject %q", d.Subject)
	}
	for _, want := range []string{"10.20.3.21", "实验楼301 GPU工作站（实验楼301，信息中心）", "李老师",
		"判定依据：" + names.SignalOf(names.PoolContact).Zh + "（40分）；" + names.SignalOf(names.StratumProfile).Zh + "（30分）；",
		"当前状态：挖矿中", "最高评分（近7天）：87", "处置期限：" + deadline + "（北京时间，定位设备和责任人）",
		"本次开始：" + dl.Add(-campaign.LocateDeadline).Format("2006-01-02 15:04") + "（北京时间）",
		"案件页（登记处置、书面报告）：http://grafana.example:3000/a/minewatch-campaign-app/cases/d~zd-no1-middle~10.20.3.21",
		"报送 教育局信息中心 bureau@edu.example.gov.cn"} {
		if !strings.Contains(d.Text, want) {
			t.Errorf("email lacks %q", want)
		}
	}
	// Beijing time only, each reason once.
	if strings.Contains(d.Text, "UTC") || strings.Count(d.Text, names.SignalOf(names.PoolContact).Zh) != 1 {
		t.Errorf("email shows UTC or repeats the reasons:\n%s", d.Text)
	}
}
