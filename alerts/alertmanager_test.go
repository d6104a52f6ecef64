package alerts

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/minewatch/minewatch/exporter/testsupport"
)

// message is one email as the SMTP catcher received it.
type message struct {
	From string
	To   []string
	Data []byte
}

// catcher is an SMTP server on loopback that keeps every message it is given.
type catcher struct {
	mu   sync.Mutex
	msgs []message
}

func (c *catcher) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{c: c}, nil }

type session struct {
	c   *catcher
	cur message
}

func (s *session) Reset()        { s.cur = message{} }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.From = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = b
	s.c.mu.Lock()
	s.c.msgs = append(s.c.msgs, s.cur)
	s.c.mu.Unlock()
	return nil
}

func (c *catcher) received() []message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]message(nil), c.msgs...)
}

func startCatcher(t *testing.T) (*catcher, string) {
	t.Helper()
	c := &catcher{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(c)
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return c, l.Addr().String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startAlertmanager runs the Debian Alertmanager with the rendered configuration,
// clustering off, and returns its base URL once it is ready.
func startAlertmanager(t *testing.T, configPath string) string {
	t.Helper()
	bin := testsupport.Require(t, "prometheus-alertmanager", "alertmanager")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var logs bytes.Buffer
	cmd := exec.Command(bin,
		"--config.file="+configPath,
		"--storage.path="+t.TempDir(),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
		"--log.level=debug",
	)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("alertmanager not ready at %s", base)
	return ""
}

func postAlert(t *testing.T, base string, labels, annotations map[string]string) {
	t.Helper()
	body, _ := json.Marshal([]map[string]any{{
		"labels":       labels,
		"annotations":  annotations,
		"startsAt":     time.Now().Add(-time.Minute).Format(time.RFC3339),
		"generatorURL": "http://vmalert.example/vmalert/alert",
	}})
	resp, err := http.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST /api/v2/alerts: %s: %s", resp.Status, b)
	}
}

// waitFor waits until at least n messages arrived, then a little longer so that a
// message too many would show.
func waitFor(t *testing.T, c *catcher, n int) []message {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for len(c.received()) < n && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	return c.received()
}

// decoded is an email with its subject and bodies decoded to UTF-8 text.
type decoded struct {
	Subject, From, Text, HTML string
}

func decode(t *testing.T, raw []byte) decoded {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, raw)
	}
	dec := new(mime.WordDecoder)
	var d decoded
	if d.Subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
		t.Fatal(err)
	}
	d.From = m.Header.Get("From")
	var walk func(h map[string][]string, r io.Reader)
	walk = func(h map[string][]string, r io.Reader) {
		hdr := mail.Header(h)
		mt, params, err := mime.ParseMediaType(hdr.Get("Content-Type"))
		if err != nil {
			t.Fatalf("content type %q: %v", hdr.Get("Content-Type"), err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(r, params["boundary"])
			for {
				p, err := mr.NextRawPart() // keeps Content-Transfer-Encoding for us to decode
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(p.Header, p)
			}
		}
		switch strings.ToLower(hdr.Get("Content-Transfer-Encoding")) {
		case "quoted-printable":
			r = quotedprintable.NewReader(r)
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, r)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
			t.Fatalf("charset %q, want UTF-8", cs)
		}
		switch mt {
		case "text/plain":
			d.Text += string(b)
		case "text/html":
			d.HTML += string(b)
		}
	}
	walk(m.Header, m.Body)
	return d
}

var han = regexp.MustCompile(`\p{Han}`)

// annotationsFor is what vmalert attaches to a new-IP alert for 10.20.3.21
// (the same text as the promtool test of rules/cases.yml).
func annotationsFor(summary string) map[string]string {
	return map[string]string{
		"summary":         summary,
		"description":     "10.20.3.21 自 2026-11-22 19:28:00（北京时间）起被判定为挖矿主机，当前评分 87。\n判定依据：连接已登记矿池（40分）；Stratum挖矿会话特征（30分）；\n请于 2026-11-24 19:28:00（北京时间）前定位设备和责任人，并于 2026-11-25 19:28:00（北京时间）前提交书面报告。",
		"reasons":         "连接已登记矿池（40分）；Stratum挖矿会话特征（30分）；",
		"state":           "挖矿中",
		"data_time":       "2026-11-22 20:00:00（北京时间）",
		"deadline":        "2026-11-24 19:28:00（北京时间，定位设备和责任人）",
		"report_deadline": "2026-11-25 19:28:00（北京时间，提交书面报告）",
		"unit_name":       "郑东新区第一中学",
		"asset":           "实验楼301 GPU工作站（实验楼301，信息中心）",
		"owner":           "李老师",
		"dashboard":       "/d/minewatch-ip/ip-detail?var-ip=10.20.3.21",
	}
}

// TestAlertEmailReachesUnitLead: against the real Alertmanager, an alert of one unit
// becomes exactly one Chinese email to that unit's lead with the IP, device and deadline;
// an overdue alert is also copied to the bureau.
func TestAlertEmailReachesUnitLead(t *testing.T) {
	t.Parallel()
	smtpCatcher, smtpAddr := startCatcher(t)
	o := testOptions()
	o.Smarthost = smtpAddr
	o.GroupWait = time.Second // email default is 30s; the test need not wait that long
	cfg := filepath.Join(t.TempDir(), "alertmanager.yml")
	r, err := Render(ledgerUnits(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteFiles(cfg); err != nil {
		t.Fatal(err)
	}
	am := startAlertmanager(t, cfg)

	postAlert(t, am,
		map[string]string{"alertname": "MinewatchMiningIPNew", "ip": "10.20.3.21", "unit": "zd-no1-middle", "severity": "critical", "stage": "locate"},
		annotationsFor("新增挖矿IP 10.20.3.21（郑东新区第一中学）"))
	msgs := waitFor(t, smtpCatcher, 1)
	if len(msgs) != 1 {
		t.Fatalf("got %d emails, want exactly 1: %+v", len(msgs), msgs)
	}
	m := msgs[0]
	if len(m.To) != 1 || m.To[0] != "lead@no1.example.edu.cn" {
		t.Fatalf("email went to %v, want only the lead of zd-no1-middle", m.To)
	}
	d := decode(t, m.Data)
	t.Logf("subject: %s\ntext:\n%s", d.Subject, d.Text)
	if !strings.HasPrefix(d.Text, "张老师（郑东新区第一中学负责人），您好：") || !strings.Contains(d.HTML, "张老师（郑东新区第一中学负责人），您好：") {
		t.Errorf("email does not greet the lead by name:\n%s", d.Text)
	}
	if !strings.Contains(d.Subject, "挖矿告警") || !strings.Contains(d.Subject, "10.20.3.21") {
		t.Errorf("subject %q lacks 挖矿告警 and the IP", d.Subject)
	}
	for name, body := range map[string]string{"text": d.Text, "html": d.HTML} {
		for _, want := range []string{"10.20.3.21", "实验楼301 GPU工作站", "2026-11-24 19:28:00", "李老师", "郑东新区第一中学", "连接已登记矿池",
			// the IP's case page in the app (docs/app-api.md: a d~ id finds the store's case)
			"http://grafana.example:3000/a/minewatch-campaign-app/cases/d~zd-no1-middle~10.20.3.21",
			"在各IP的案件页登记"} {
			if name == "html" {
				want = strings.ReplaceAll(want, "&", "&amp;")
			}
			if !strings.Contains(body, want) {
				t.Errorf("%s body lacks %q", name, want)
			}
		}
		// 当前状态 and the time it is as of, in both parts.
		state := map[string][]string{"text": {"当前状态：挖矿中", "数据时间：2026-11-22 20:00:00（北京时间）"},
			"html": {"<td>当前状态</td><td>挖矿中</td>", "<td>数据时间</td><td>2026-11-22 20:00:00（北京时间）</td>"}}[name]
		for _, want := range state {
			if !strings.Contains(body, want) {
				t.Errorf("%s body lacks %q", name, want)
			}
		}
		if n := len(han.FindAllString(body, -1)); n < 50 {
			t.Errorf("%s body has only %d Chinese characters", name, n)
		}
	}

	// Overdue: one email to the lead, one copy to the bureau.
	postAlert(t, am,
		map[string]string{"alertname": "MinewatchInvestigationOverdue", "ip": "10.20.3.21", "unit": "zd-no1-middle", "severity": "critical", "stage": "locate", "escalate": "bureau"},
		annotationsFor("挖矿IP 10.20.3.21 超过48小时未定位（郑东新区第一中学）"))
	msgs = waitFor(t, smtpCatcher, 3)[1:]
	if len(msgs) != 2 {
		t.Fatalf("overdue: got %d emails, want 2", len(msgs))
	}
	var to []string
	for _, m := range msgs {
		to = append(to, m.To...)
		if d := decode(t, m.Data); !strings.Contains(d.Subject, "定位超时") {
			t.Errorf("overdue subject %q lacks 定位超时", d.Subject)
		}
	}
	if strings.Join(sorted(to), ",") != "bureau@edu.example.gov.cn,lead@no1.example.edu.cn" {
		t.Errorf("overdue emails went to %v, want the lead and the bureau", to)
	}
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// TestHealthEmailCarriesNoCaseInstruction: an exporter-health alert goes to the
// bureau without the unit's instructions (cutting a device off, the written
// report), and an email rendered without a Grafana address carries no link.
func TestHealthEmailCarriesNoCaseInstruction(t *testing.T) {
	t.Parallel()
	smtpCatcher, smtpAddr := startCatcher(t)
	o := testOptions()
	o.Smarthost, o.GroupWait, o.GrafanaURL = smtpAddr, time.Second, ""
	o.BureauPhone = "0371-12345678"
	cfg := filepath.Join(t.TempDir(), "alertmanager.yml")
	r, err := Render(ledgerUnits(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteFiles(cfg); err != nil {
		t.Fatal(err)
	}
	am := startAlertmanager(t, cfg)
	postAlert(t, am, map[string]string{"alertname": "MinewatchExporterDown", "job": "minewatch", "instance": "10.0.0.5:9617", "severity": "critical"},
		map[string]string{"summary": "流量分析器 10.0.0.5:9617 已离线", "description": "已超过5分钟无法采集指标。"})
	postAlert(t, am, map[string]string{"alertname": "MinewatchMiningIPNew", "ip": "10.20.3.21", "unit": "zd-no1-middle", "severity": "critical", "stage": "locate"},
		annotationsFor("新增挖矿IP 10.20.3.21（郑东新区第一中学）"))
	msgs := waitFor(t, smtpCatcher, 2)
	if len(msgs) != 2 {
		t.Fatalf("got %d emails, want 2", len(msgs))
	}
	for _, m := range msgs {
		d := decode(t, m.Data)
		health := strings.Contains(d.Subject, "系统告警")
		for _, body := range []string{d.Text, d.HTML} {
			if strings.Contains(body, "查看详情") || strings.Contains(body, "在 Grafana 中查看") || strings.Contains(body, "案件页") || strings.Contains(body, "/a/minewatch-campaign-app") {
				t.Errorf("%s: a link without a Grafana address:\n%s", d.Subject, body)
			}
			cut := strings.Contains(body, "断开") || strings.Contains(body, "书面报告")
			if health && cut {
				t.Errorf("health email tells to cut devices off or report:\n%s", body)
			}
			if !health && (!cut || !strings.Contains(body, "bureau@edu.example.gov.cn，电话 0371-12345678")) {
				t.Errorf("case email lacks the next steps and where the report goes:\n%s", body)
			}
			if strings.Contains(body, "UTC") {
				t.Errorf("%s: UTC time in the email:\n%s", d.Subject, body)
			}
		}
		if health && (len(m.To) != 1 || m.To[0] != "bureau@edu.example.gov.cn") {
			t.Errorf("health email to %v, want the bureau", m.To)
		}
	}
}
