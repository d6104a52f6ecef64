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

	// The exporter's series for one mining host, written every 500 ms.
	series := `minewatch_host_mining{ip="10.20.3.21",unit="zd-no1-middle",class="active"} 1
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

	msgs := waitFor(t, smtpCatcher, 1)
	if len(msgs) != 1 {
		t.Fatalf("got %d emails, want exactly 1", len(msgs))
	}
	if len(msgs[0].To) != 1 || msgs[0].To[0] != "lead@no1.example.edu.cn" {
		t.Fatalf("email to %v, want the lead of zd-no1-middle", msgs[0].To)
	}
	d := decode(t, msgs[0].Data)
	t.Logf("subject: %s\ntext:\n%s", d.Subject, d.Text)

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
