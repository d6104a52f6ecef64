// Package report writes the campaign's written report (书面报告): the
// document a unit files within 72 hours of a case (docs/campaign.md), in
// Chinese, pre-filled from the case — unit, IP, device, person, evidence,
// timeline of dispositions — with the parts only people can write (cause,
// measures, who reports and their phone) filled in by the unit.
//
// The document is DOCX (a bureau edits it in WPS or Word), written here as
// plain WordprocessingML — a handful of paragraphs and tables — because no
// maintained Go DOCX library is served to this project; or PDF, printed
// from the same content as HTML by headless Chromium (package pack).
package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
)

// Fields are what the unit completes.
type Fields struct {
	Cause    string `json:"cause"`    // 原因分析
	Measures string `json:"measures"` // 整改措施
	Reporter string `json:"reporter"` // 填报人
	Phone    string `json:"phone"`    // 联系电话
}

// MaxField bounds each field, in characters.
const MaxField = 4000

// Check refuses over-long fields.
func (f Fields) Check() error {
	for name, v := range map[string]string{"cause": f.Cause, "measures": f.Measures, "reporter": f.Reporter, "phone": f.Phone} {
		if n := len([]rune(v)); n > MaxField {
			return fmt.Errorf("字段过长 field %s has %d characters, at most %d", name, n, MaxField)
		}
	}
	return nil
}

// Reason is one signal behind the score.
type Reason struct {
	Label  string
	Points float64
}

// Step is one disposition of the timeline.
type Step struct {
	At                        time.Time
	Stage, Class, Note, Actor string // codes for stage and class; Actor "login (role)"
}

// Report is everything the document says.
type Report struct {
	CaseID                                                  string
	Unit, UnitName                                          string
	IPs                                                     []string
	Device, Person, DeviceKey                               string
	Source, State                                           string // codes (detected|notice|manual; the tracker's state)
	Opened, LocateDue, ReportDue, Located, Reported, Closed time.Time
	Class                                                   string // class of the latest disposition (code)
	Score                                                   float64
	Reasons                                                 []Reason
	FirstSeen, LastSeen                                     time.Time
	Timeline                                                []Step
	Notices                                                 []string // "number, egress, window" lines
	Fields                                                  Fields
	SendTo                                                  string // where the report goes (报送), "" when not configured
	Generated                                               time.Time
	Location                                                *time.Location // Beijing time when nil
}

func (r Report) loc() *time.Location {
	if r.Location != nil {
		return r.Location
	}
	return campaign.Location()
}

func (r Report) when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return campaign.FormatTime(t, r.loc())
}

// Title is the document's title.
func (r Report) Title() string {
	return fmt.Sprintf("关于%s IP地址 %s 挖矿行为的书面报告", r.unitText(), strings.Join(r.IPs, "、"))
}

func (r Report) unitText() string {
	if r.UnitName != "" {
		return r.UnitName
	}
	return r.Unit
}

// FileName is the name the document downloads as.
func (r Report) FileName(format string) string {
	ip := "case"
	if len(r.IPs) > 0 {
		ip = strings.ReplaceAll(r.IPs[0], ":", "-")
	}
	return fmt.Sprintf("书面报告-%s-%s-%s.%s", r.Unit, ip, r.Generated.In(r.loc()).Format("20060102"), format)
}

var sourceLabels = map[string]string{"detected": "minewatch 监测发现", "notice": "上级通报", "manual": "人工登记"}

func orBlank(s, blank string) string {
	if strings.TrimSpace(s) == "" {
		return blank
	}
	return s
}

const toFill = "（请填写）"

// block is the document's content in the order it is printed, shared by
// the DOCX and the HTML writers so that they cannot say different things.
type block struct {
	heading string     // a numbered section heading
	paras   []string   // paragraphs (a paragraph may hold newlines)
	table   [][]string // first row is the header when header is set
	header  bool
}

func (r Report) blocks() []block {
	state := "—"
	if r.State != "" {
		state = campaign.CodeLabels("state")[r.State]
	}
	class := "—"
	if r.Class != "" {
		class = campaign.ClassLabel(r.Class)
	}
	basic := [][]string{
		{"单位", r.unitText() + "（" + r.Unit + "）"},
		{"IP地址", strings.Join(r.IPs, "、")},
		{"设备", orBlank(r.Device, toFill)},
		{"责任人", orBlank(r.Person, toFill)},
		{"设备标识", orBlank(r.DeviceKey, "—")},
		{"案件编号", r.CaseID},
		{"案件来源", orBlank(sourceLabels[r.Source], r.Source)},
		{"立案时间", r.when(r.Opened)},
		{"定位时限（48小时）", r.when(r.LocateDue)},
		{"报告时限（72小时）", r.when(r.ReportDue)},
		{"定位时间", r.when(r.Located)},
		{"结案时间", r.when(r.Closed)},
		{"当前状态", state},
		{"处置类别", class},
	}
	var ev []string
	if r.Score > 0 || !r.FirstSeen.IsZero() {
		ev = append(ev, fmt.Sprintf("最高评分 %s 分；首次发现 %s；最近发现 %s。", num(r.Score), r.when(r.FirstSeen), r.when(r.LastSeen)))
	} else {
		ev = append(ev, "minewatch 未在监测数据中发现该地址的挖矿评分。")
	}
	if len(r.Reasons) > 0 {
		ev = append(ev, "判定依据：")
		for _, x := range r.Reasons {
			ev = append(ev, fmt.Sprintf("· %s：%+g 分", x.Label, campaign.Round2(x.Points)))
		}
	}
	for _, n := range r.Notices {
		ev = append(ev, "上级通报："+n)
	}
	steps := [][]string{{"时间", "环节", "类别", "说明", "登记人"}}
	for _, s := range r.Timeline {
		steps = append(steps, []string{r.when(s.At), campaign.StageLabel(s.Stage), campaign.ClassLabel(s.Class), orBlank(s.Note, ""), s.Actor})
	}
	timeline := block{heading: "三、处置经过", table: steps, header: true}
	if len(r.Timeline) == 0 {
		timeline = block{heading: "三、处置经过", paras: []string{"尚无处置记录。"}}
	}
	var head []block
	if r.SendTo != "" {
		head = append(head, block{paras: []string{"报送：" + r.SendTo}})
	}
	return append(head, []block{
		{heading: "一、基本情况", table: basic},
		{heading: "二、发现与研判", paras: ev},
		timeline,
		{heading: "四、原因分析", paras: []string{orBlank(r.Fields.Cause, toFill)}},
		{heading: "五、整改措施", paras: []string{orBlank(r.Fields.Measures, toFill)}},
		{paras: []string{
			"填报人：" + orBlank(r.Fields.Reporter, toFill) + "　　联系电话：" + orBlank(r.Fields.Phone, toFill),
			"填报日期：" + r.Generated.In(r.loc()).Format("2006年1月2日"),
		}},
	}...)
}

func num(x float64) string { return strconv.FormatFloat(campaign.Round2(x), 'f', -1, 64) }

// footer is the last line of the document.
const footer = "本报告由 minewatch 根据案件记录预先填写，时间均为北京时间；请核对后报送主管部门。"
