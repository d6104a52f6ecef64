package alerts

import (
	"errors"
	"fmt"
	"html"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/models"
)

// Unit is what routing needs to know about one unit of the ledger.
type Unit struct {
	ID        string // the `unit` label value
	Name      string // Chinese name, shown in the receiver's comment only
	LeadName  string
	LeadEmail string
}

// Options configure the rendered Alertmanager configuration.
type Options struct {
	Smarthost string // SMTP server, host:port
	From      string // sender address
	Username  string // SMTP AUTH user; empty: no authentication
	// PasswordFile is the file Alertmanager reads the SMTP password from
	// (smtp_auth_password_file): the password never appears in the
	// configuration. Empty with a Username: Password is written by WriteFiles
	// to PasswordFileName next to the configuration, and that file is named.
	PasswordFile string
	Password     string
	RequireTLS   bool
	BureauEmail  string // receives overdue cases, repeated relapses, pipeline health and unknown units
	// BureauName and BureauPhone tell a unit lead where the written report
	// goes and whom to call; the name defaults to 教育局信息中心.
	BureauName  string
	BureauPhone string
	// GrafanaURL is the base address of Grafana, joined to the dashboard path
	// of each alert; empty, the emails carry no link (nothing to click that
	// does not answer).
	GrafanaURL string
	// WeCom, when set, sends every email's alerts to 企业微信 as well
	// (Alertmanager's wechat_configs), on the same routes.
	WeCom *WeCom

	// Zero values give the email defaults: 30s, 5m, 12h.
	GroupWait      time.Duration
	GroupInterval  time.Duration
	RepeatInterval time.Duration
}

// WeCom is an enterprise WeChat application that receives the alerts.
type WeCom struct {
	CorpID    string // 企业ID
	AgentID   string // 应用 AgentId
	APISecret string // 应用 Secret: Alertmanager 0.25 (Debian) takes it only inline, so the configuration is written 0600
	ToParty   string // 部门ID(s), "|"-separated; empty: ToUser
	ToUser    string // 成员账号(s), "|"-separated; "@all" for everyone
	APIURL    string // default Alertmanager's (https://qyapi.weixin.qq.com/cgi-bin/)
}

// TemplateFile is the name of the email template written next to the configuration.
const TemplateFile = "minewatch-email.tmpl"

// PasswordFileName is the file WriteFiles writes Options.Password to.
const PasswordFileName = "minewatch-smtp-password"

// Rendered is an Alertmanager configuration and the files it refers to.
type Rendered struct {
	Config   []byte // alertmanager.yml
	Template []byte // TemplateFile, to be written in the same directory
	Password []byte // PasswordFileName, written next to the configuration; nil when Options.PasswordFile names one

	passwordPlaceholder bool // Config names the password file by placeholder, replaced by its path on WriteFiles
}

// passwordPlaceholder stands in the configuration for the absolute path of
// PasswordFileName until WriteFiles knows the directory.
const passwordPlaceholder = "@@MINEWATCH_SMTP_PASSWORD_FILE@@"

// Render builds the Alertmanager configuration for the given units.
func Render(units []Unit, o Options) (*Rendered, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var routes []route
	receivers := []receiver{o.receiver("bureau", o.BureauEmail, "教育局信息中心")}
	// Escalated alerts (overdue cases, repeated relapses) go to the bureau and then on
	// to the unit's own route.
	routes = append(routes, route{Receiver: "bureau", Matchers: []string{`escalate="bureau"`}, Continue: true})
	for _, u := range units {
		if !names.ValidUnitID(u.ID) { // the ledger's rule: keeps ids safe inside matchers and receiver names
			return nil, fmt.Errorf("unit %q: %s", u.ID, names.UnitIDRule)
		}
		if seen[u.ID] {
			return nil, fmt.Errorf("unit %q appears twice", u.ID)
		}
		seen[u.ID] = true
		if u.LeadEmail == "" {
			// No lead on record: the unit's alerts fall through to the bureau.
			continue
		}
		if _, err := mail.ParseAddress(u.LeadEmail); err != nil {
			return nil, fmt.Errorf("unit %q: lead email %q: %v", u.ID, u.LeadEmail, err)
		}
		name := "unit-" + u.ID
		routes = append(routes, route{Receiver: name, Matchers: []string{fmt.Sprintf("unit=%q", u.ID)}})
		if strings.Contains(u.LeadName+u.Name, "{{") || strings.Contains(u.LeadName+u.Name, "}}") {
			return nil, fmt.Errorf("unit %q: names must not contain template delimiters", u.ID)
		}
		greet := strings.TrimSpace(u.LeadName)
		if greet == "" {
			greet = "单位负责人"
		}
		if u.Name != "" {
			greet += "（" + u.Name + "负责人）"
		}
		receivers = append(receivers, o.receiver(name, u.LeadEmail, greet))
	}
	cfg := config{
		Global: global{
			Smarthost:        o.Smarthost,
			From:             o.From,
			Hello:            "minewatch",
			AuthUsername:     o.Username,
			AuthPasswordFile: o.passwordFile(),
			RequireTLS:       o.RequireTLS,
		},
		Templates: []string{TemplateFile},
		Route: route{
			Receiver:       "bureau",
			GroupBy:        []string{"alertname", "unit"},
			GroupWait:      dur(o.GroupWait, 30*time.Second),
			GroupInterval:  dur(o.GroupInterval, 5*time.Minute),
			RepeatInterval: dur(o.RepeatInterval, 12*time.Hour),
			Routes:         routes,
		},
		// Past 72 h one email about the missing report is enough; it says the case is open.
		InhibitRules: []inhibitRule{{
			SourceMatchers: []string{`alertname="MinewatchReportOverdue"`},
			TargetMatchers: []string{`alertname="MinewatchInvestigationOverdue"`},
			Equal:          []string{"ip", "unit"},
		}},
		Receivers: receivers,
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	header := "# Generated by `minewatch alerts render` from the unit ledger; do not edit by hand.\n"
	tmpl, err := files.ReadFile("templates/email.tmpl")
	if err != nil {
		return nil, err
	}
	r := &Rendered{Config: append([]byte(header), out...), Template: append(o.prelude(), tmpl...)}
	if o.Username != "" && o.PasswordFile == "" {
		r.Password, r.passwordPlaceholder = []byte(o.Password), true
	}
	return r, nil
}

// prelude defines what the email template takes from the options and the
// campaign: the Grafana address, the bureau's contact, the deadlines' hours,
// and Beijing time for Alertmanager's own times (Debian's Alertmanager 0.25
// has no time-zone function, and Asia/Shanghai keeps one offset all year).
func (o Options) prelude() []byte {
	name := o.BureauName
	if name == "" {
		name = "教育局信息中心"
	}
	contact := name + " " + o.BureauEmail
	if o.BureauPhone != "" {
		contact += "，电话 " + o.BureauPhone
	}
	var b strings.Builder
	def := func(n, body string) { fmt.Fprintf(&b, "{{ define %q }}%s{{ end }}\n", n, body) }
	// The links: none without a Grafana address (an email must not point at
	// nothing). Each takes one alert. An alert about an IP links to its case
	// page in the app, where the lead records the disposition and files the
	// written report: /a/<app>/cases/d~<unit>~<ip>, which the app's API
	// answers with the IP's case (the store's once one is open). Other
	// alerts (a unit's relapses) link to their dashboard.
	if u := strings.TrimRight(o.GrafanaURL, "/"); u != "" {
		casePage := models.CasesPath + models.DetectedCaseID("{{ .Labels.unit }}", "{{ .Labels.ip }}")
		def("minewatch.link_text", "{{ if and .Labels.ip .Labels.unit }}案件页（登记处置、书面报告）："+u+casePage+"\n"+
			"{{ else }}{{ with .Annotations.dashboard }}查看详情："+u+"{{ . }}\n{{ end }}{{ end }}")
		def("minewatch.link_html", `{{ if and .Labels.ip .Labels.unit }}<tr><td>案件页</td><td><a href="`+html.EscapeString(u)+casePage+`">登记处置、书面报告</a></td></tr>`+
			`{{ else }}{{ with .Annotations.dashboard }}<tr><td>详情</td><td><a href="`+html.EscapeString(u)+`{{ . }}">在 Grafana 中查看</a></td></tr>{{ end }}{{ end }}`)
		def("minewatch.record_how", "在各IP的案件页登记，用单位负责人的 Grafana 账号登录")
	} else {
		def("minewatch.link_text", "")
		def("minewatch.link_html", "")
		def("minewatch.record_how", "minewatch case 命令；不便使用时请告知信息中心代为登记")
	}
	def("minewatch.bureau", contact)
	def("minewatch.locate_hours", fmt.Sprint(int64(campaign.LocateDeadline/time.Hour)))
	def("minewatch.report_hours", fmt.Sprint(int64(campaign.ReportDeadline/time.Hour)))
	def("minewatch.beijing", fmt.Sprintf(`{{ (.Add %d).Format "2006-01-02 15:04" }}`, zoneOffset()*int64(time.Second)))
	return []byte(b.String())
}

func (o Options) passwordFile() string {
	switch {
	case o.Username == "":
		return ""
	case o.PasswordFile != "":
		return o.PasswordFile
	}
	return passwordPlaceholder
}

// FileMode is the mode of every file WriteFiles writes, also when it
// replaces an existing file: the configuration names receivers' addresses,
// the password file holds the password.
const FileMode = 0o600

// WriteFiles writes the configuration to path and the template (and the
// password file, if any) next to it, each through a temporary file renamed
// into place, so every file has FileMode whatever the old file's mode was.
func (r *Rendered) WriteFiles(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := r.Config
	if r.passwordPlaceholder {
		abs, err := filepath.Abs(filepath.Join(dir, PasswordFileName))
		if err != nil {
			return err
		}
		if err := writeFile(abs, r.Password); err != nil {
			return err
		}
		cfg = []byte(strings.ReplaceAll(string(cfg), passwordPlaceholder, abs))
	}
	if err := writeFile(path, cfg); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, TemplateFile), r.Template)
}

// writeFile replaces path with data, mode FileMode.
func writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing left to remove
	if err := f.Chmod(FileMode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (o Options) check() error {
	var errs []error
	if o.Smarthost == "" || !strings.Contains(o.Smarthost, ":") {
		errs = append(errs, fmt.Errorf("SMTP server %q: want host:port", o.Smarthost))
	}
	if _, err := mail.ParseAddress(o.From); err != nil {
		errs = append(errs, fmt.Errorf("sender %q: %v", o.From, err))
	}
	if o.PasswordFile != "" && !filepath.IsAbs(o.PasswordFile) {
		errs = append(errs, fmt.Errorf("SMTP password file %q: want an absolute path (Alertmanager resolves it from its own working directory)", o.PasswordFile))
	}
	if strings.Contains(o.Password, "\n") {
		errs = append(errs, fmt.Errorf("SMTP password contains a newline"))
	}
	if _, err := mail.ParseAddress(o.BureauEmail); err != nil {
		errs = append(errs, fmt.Errorf("bureau email %q: %v", o.BureauEmail, err))
	}
	if u, err := url.Parse(o.GrafanaURL); o.GrafanaURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(o.GrafanaURL, "{}")) {
		errs = append(errs, fmt.Errorf("Grafana URL %q: want http(s)://host[:port][/path], or empty for no links", o.GrafanaURL))
	}
	if strings.ContainsAny(o.BureauName+o.BureauPhone, "{}\n") {
		errs = append(errs, fmt.Errorf("bureau name/phone must not contain braces or newlines"))
	}
	if w := o.WeCom; w != nil {
		if w.CorpID == "" || w.AgentID == "" || w.APISecret == "" || (w.ToParty == "" && w.ToUser == "") {
			errs = append(errs, fmt.Errorf("WeCom: corp id, agent id, secret and a party or user are all needed"))
		}
		if strings.ContainsAny(w.APISecret, "\n") {
			errs = append(errs, fmt.Errorf("WeCom secret contains a newline"))
		}
	}
	return errors.Join(errs...)
}

// receiver emails to with a greeting of the addressee before the alerts.
func (o Options) receiver(name, to, greeting string) receiver {
	r := receiver{Name: name, EmailConfigs: []emailConfig{{
		To:      to,
		Headers: map[string]string{"Subject": `{{ template "minewatch.subject" . }}`},
		// Literal text of an html template is not escaped by Alertmanager: escape it here.
		HTML: `<p>` + html.EscapeString(greeting) + `，您好：</p>{{ template "minewatch.html" . }}`,
		Text: greeting + "，您好：\n\n" + `{{ template "minewatch.text" . }}`,
		// The case alerts end by clearing or by a disposition; nobody needs a mail for that.
		SendResolved: false,
	}}}
	if w := o.WeCom; w != nil {
		r.WechatConfigs = []wechatConfig{{
			CorpID: w.CorpID, AgentID: w.AgentID, APISecret: w.APISecret, APIURL: w.APIURL,
			ToParty: w.ToParty, ToUser: w.ToUser, Message: `{{ template "minewatch.wecom" . }}`,
		}}
	}
	return r
}

func dur(d, def time.Duration) string {
	if d <= 0 {
		d = def
	}
	return model.Duration(d).String()
}

// The subset of Alertmanager's configuration that minewatch writes.
type config struct {
	Global       global        `yaml:"global"`
	Templates    []string      `yaml:"templates"`
	Route        route         `yaml:"route"`
	InhibitRules []inhibitRule `yaml:"inhibit_rules"`
	Receivers    []receiver    `yaml:"receivers"`
}

type global struct {
	Smarthost        string `yaml:"smtp_smarthost"`
	From             string `yaml:"smtp_from"`
	Hello            string `yaml:"smtp_hello"`
	AuthUsername     string `yaml:"smtp_auth_username,omitempty"`
	AuthPasswordFile string `yaml:"smtp_auth_password_file,omitempty"`
	RequireTLS       bool   `yaml:"smtp_require_tls"`
}

type route struct {
	Receiver       string   `yaml:"receiver"`
	GroupBy        []string `yaml:"group_by,omitempty"`
	GroupWait      string   `yaml:"group_wait,omitempty"`
	GroupInterval  string   `yaml:"group_interval,omitempty"`
	RepeatInterval string   `yaml:"repeat_interval,omitempty"`
	Matchers       []string `yaml:"matchers,omitempty"`
	Continue       bool     `yaml:"continue,omitempty"`
	Routes         []route  `yaml:"routes,omitempty"`
}

type inhibitRule struct {
	SourceMatchers []string `yaml:"source_matchers"`
	TargetMatchers []string `yaml:"target_matchers"`
	Equal          []string `yaml:"equal"`
}

type receiver struct {
	Name          string         `yaml:"name"`
	EmailConfigs  []emailConfig  `yaml:"email_configs"`
	WechatConfigs []wechatConfig `yaml:"wechat_configs,omitempty"`
}

type wechatConfig struct {
	CorpID    string `yaml:"corp_id"`
	AgentID   string `yaml:"agent_id"`
	APISecret string `yaml:"api_secret"`
	APIURL    string `yaml:"api_url,omitempty"`
	ToParty   string `yaml:"to_party,omitempty"`
	ToUser    string `yaml:"to_user,omitempty"`
	Message   string `yaml:"message"`
}

type emailConfig struct {
	To           string            `yaml:"to"`
	Headers      map[string]string `yaml:"headers"`
	HTML         string            `yaml:"html"`
	Text         string            `yaml:"text"`
	SendResolved bool              `yaml:"send_resolved"`
}
