package alerts

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
)

// CaseRulesFile is the generated rule file under rules/.
const CaseRulesFile = "cases.yml"

// Flavor selects the annotations of the generated rules.
type Flavor int

const (
	// Live rules carry the annotations the emails show; several of them run
	// vmalert template queries (unit name, asset, owner, reasons, times).
	Live Flavor = iota
	// Replay rules are the same groups, intervals, expressions and labels
	// without the annotations that query: vmalert -replay refuses the
	// `query` template. They let a rule change be checked against history.
	Replay
)

// CaseRules generates rules/cases.yml from the campaign definition
// (plugin/pkg/campaign): the only source of its deadlines, quiet period,
// relapse window and precision. The shipped file is what CaseRules(Live)
// returns (TestShippedRulesAreGenerated); `minewatch alerts render` writes it.
func CaseRules(f Flavor) ([]byte, error) {
	d := definition()
	d.L.D, d.R.D = &d, &d
	var b bytes.Buffer
	if err := casesTemplate.Execute(&b, d); err != nil {
		return nil, err
	}
	if f == Live {
		return b.Bytes(), nil
	}
	return stripQueryAnnotations(b.Bytes())
}

// ReplayRules is CaseRules(Replay) reduced to the groups that run every
// bucket (the campaign's rules): what `vmalert -replay` evaluates over a
// stored history to record the episodes, relapses and alerts of the past.
func ReplayRules() ([]byte, error) {
	b, err := CaseRules(Replay)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	groups := child(doc.Content[0], "groups")
	var keep []*yaml.Node
	for _, g := range groups.Content {
		if iv := child(g, "interval"); iv != nil && iv.Value == secs(campaign.Bucket) {
			keep = append(keep, g)
		}
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("no rule group runs every %s", secs(campaign.Bucket))
	}
	groups.Content = keep
	return yaml.Marshal(&doc)
}

// WriteRules writes the vmalert rule files into dir (mode FileMode, like
// every render): cases.yml generated from the campaign definition and the
// shipped exporter.yml. It returns the paths written.
func WriteRules(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cases, err := CaseRules(Live)
	if err != nil {
		return nil, err
	}
	exporter, err := fs.ReadFile(Rules(), "exporter.yml")
	if err != nil {
		return nil, err
	}
	var out []string
	for name, b := range map[string][]byte{CaseRulesFile: cases, "exporter.yml": exporter} {
		p := filepath.Join(dir, name)
		if err := writeFile(p, b); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// ruleDefinition is what the template needs, all derived from package campaign.
type ruleDefinition struct {
	Bucket, Quiet, RelapseWindow, Lookback, LookbackShort string // range durations, seconds
	LocateS, ReportS                                      int64  // deadlines in seconds
	LocateH, ReportH                                      int64  // deadlines in hours, for the text
	LocateBJ, ReportBJ, BJ                                int64  // deadline + zone offset, zone offset (seconds)
	QuietDays, RelapseDays                                int64
	RelapseLimit                                          int
	BucketS                                               int64
	Flag, PriorQuiet, StartNow, RelapseNow                string
	NotCleared, Start, RelapseStart, IsRelapse            string
	Located, Reported, PrevEndNow, PrevEnd                string
	RelapseCount                                          string
	Signals                                               string
	StateMining, StateQuiet, StateRelapsed                string // the tracker's state labels
	MaxScoreQuery                                         string // template query (printf format: ip, unit)
	BucketEndQuery                                        string // template query: the end of the round's bucket (Unix s)
	EvalTimeQuery                                         string // template query: the round's time, whole seconds (Unix s)
	MiningNowQuery                                        string // template query (printf format: ip, unit, bucket end)
	// L: annotations of alerts whose value is the locate deadline; R: the report deadline.
	L, R valueTimes
}

// valueTimes are what to add to an alert's value (a deadline) to print the
// episode's start and both deadlines in Beijing time.
type valueTimes struct {
	Start, Loc, Rep int64
	Deadline        int64 // the alert's own deadline (its value): Loc or Rep
	D               *ruleDefinition
}

func secs(d time.Duration) string { return fmt.Sprintf("%ds", int64(d/time.Second)) }

// zoneOffset is the campaign zone's offset from UTC. Asia/Shanghai has had
// no daylight saving since 1991, so one offset is exact for every time the
// rules will see; the test checks this for the years around now.
func zoneOffset() int64 {
	_, off := time.Date(2026, 1, 1, 0, 0, 0, 0, campaign.Location()).Zone()
	return int64(off)
}

func definition() ruleDefinition {
	bj := zoneOffset()
	d := ruleDefinition{
		Bucket: secs(campaign.Bucket), Quiet: secs(campaign.QuietPeriod), RelapseWindow: secs(campaign.RelapseWindow),
		Lookback: secs(campaign.Lookback), LookbackShort: secs(campaign.RelapseWindow - campaign.Bucket),
		LocateS: int64(campaign.LocateDeadline / time.Second), ReportS: int64(campaign.ReportDeadline / time.Second),
		LocateH: int64(campaign.LocateDeadline / time.Hour), ReportH: int64(campaign.ReportDeadline / time.Hour),
		BJ: bj, QuietDays: int64(campaign.QuietPeriod / (24 * time.Hour)), RelapseDays: int64(campaign.RelapseWindow / (24 * time.Hour)),
		RelapseLimit: campaign.RelapseLimit, BucketS: int64(campaign.Bucket / time.Second),
	}
	d.LocateBJ, d.ReportBJ = d.LocateS+bj, d.ReportS+bj
	// Every expression is judged at an evaluation time T on the hour grid
	// (the group's interval is the bucket, and vmalert aligns the query time
	// to it). Flagged bucket (T-1h, T]: the tracker's definition.
	d.Flag = fmt.Sprintf(`max by (ip, unit) (max_over_time(minewatch_host_mining[%s])) > 0`, d.Bucket)
	// Flagged in the quiet period before the bucket: (T-1h-7d, T-1h].
	d.PriorQuiet = fmt.Sprintf(`max by (ip, unit) (max_over_time(minewatch_host_mining[%s] offset %s)) > 0`, d.Quiet, d.Bucket)
	// An episode starts in bucket (T-1h, T] when it is flagged and nothing
	// was flagged in the quiet period before it; the value is its start.
	d.StartNow = fmt.Sprintf(`((%s) unless on (ip, unit) (%s)) * 0 + (time() - %d)`, d.Flag, d.PriorQuiet, d.BucketS)
	// ... and is a relapse when the IP was flagged within the relapse window
	// before it (hour ends recorded in earlier rounds: offset one bucket).
	d.RelapseNow = fmt.Sprintf(`(%s) and on (ip, unit) (max_over_time(minewatch:host_flagged_hour_end_seconds[%s] offset %s))`, d.StartNow, d.RelapseWindow, d.Bucket)
	d.PrevEndNow = fmt.Sprintf(`max_over_time(minewatch:host_flagged_hour_end_seconds[%s] offset %s) and on (ip, unit) (%s)`, d.RelapseWindow, d.Bucket, d.RelapseNow)
	// Not cleared at T: flagged in (T-7d, T].
	d.NotCleared = fmt.Sprintf(`max by (ip, unit) (max_over_time(minewatch_host_mining[%s])) > 0`, d.Quiet)
	// The current episode's start: this round's start, else the latest start
	// recorded in earlier rounds; only while the IP is not cleared. No rule
	// reads a value recorded in its own round, so vmalert (which does not see
	// them) and promtool (which does) agree, and -replay can evaluate the
	// rules in order over history.
	d.Start = fmt.Sprintf(`max by (ip, unit) ((%s) or max_over_time(minewatch:host_episode_started_seconds[%s] offset %s)) and on (ip, unit) (%s)`, d.StartNow, d.Lookback, d.Bucket, d.NotCleared)
	d.RelapseStart = fmt.Sprintf(`max by (ip, unit) ((%s) or max_over_time(minewatch:host_relapse_started_seconds[%s] offset %s))`, d.RelapseNow, d.Lookback, d.Bucket)
	d.IsRelapse = fmt.Sprintf(`(%s) == on (ip, unit) (%s)`, d.Start, d.RelapseStart)
	d.PrevEnd = fmt.Sprintf(`max by (ip, unit) ((%s) or max_over_time(minewatch:host_relapse_previous_end_seconds[%s] offset %s)) and on (ip, unit) (%s)`, d.PrevEndNow, d.Lookback, d.Bucket, d.IsRelapse)
	// A later stage implies the earlier ones; the value is the Unix time of the record.
	d.Located = fmt.Sprintf(`max by (ip, unit) (max_over_time(minewatch_case_disposition{stage=~"located|reported|closed"}[%s]))`, d.Lookback)
	d.Reported = fmt.Sprintf(`max by (ip, unit) (max_over_time(minewatch_case_disposition{stage=~"reported|closed"}[%s]))`, d.Lookback)
	// Relapses of each IP started in the window before T: the starts recorded
	// in earlier rounds, (T-365d, T-1h], plus this round's. One sample per
	// relapse: count_over_time counts samples the same way on VictoriaMetrics
	// and Prometheus (changes() does not).
	earlier := fmt.Sprintf(`count_over_time(minewatch:host_relapse_started_seconds[%s] offset %s)`, d.LookbackShort, d.Bucket)
	d.RelapseCount = fmt.Sprintf(`sum by (unit) ((%s) or ((%s) * 0)) + on (unit) sum by (unit) (((%s) * 0 + 1) or ((%s) * 0))`, earlier, d.RelapseNow, d.RelapseNow, earlier)
	d.Signals = signalsText()
	// Mining now at the round's time T: flagged in the bucket that contains T,
	// (BucketEnd(T)-1h, BucketEnd(T)], the tracker's definition, in the text
	// package campaign owns. The annotation first asks for the bucket end
	// (BucketEndQuery, at T: vmalert runs a template's queries at the rule's
	// evaluation time), then runs MiningNowQuery at it. A sliding hour before
	// T would agree only on the hour, i.e. not in the demo (rounds every minute).
	step := campaign.DefaultConfig().Step
	d.BucketEndQuery = campaign.BucketEndQuery(step)
	d.EvalTimeQuery = campaign.EvalTimeQuery
	d.MiningNowQuery = campaign.MiningNowQuery(`minewatch_host_mining{ip=%q,unit=%q}`, step, "%.0f")
	// The highest score in the quiet period: the score that made the case,
	// even after the host stopped (its current score may be below the threshold).
	d.MaxScoreQuery = fmt.Sprintf(`max(max_over_time(minewatch_host_score{ip=%%q,unit=%%q}[%s]))`, d.Quiet)
	d.StateMining, d.StateQuiet, d.StateRelapsed = campaign.StateLabel(campaign.StateMining), campaign.StateLabel(campaign.StateQuiet), campaign.StateLabel(campaign.StateRelapsed)
	d.L = valueTimes{Start: bj - d.LocateS, Loc: bj, Rep: bj + d.ReportS - d.LocateS, Deadline: bj}
	d.R = valueTimes{Start: bj - d.ReportS, Loc: bj + d.LocateS - d.ReportS, Rep: bj, Deadline: bj}
	return d
}

// signalsText renders the reasons of an alert once: each signal's Chinese
// name (exporter/names owns them) with its points rounded, strongest first.
func signalsText() string {
	var b strings.Builder
	b.WriteString(`{{ range query (printf "sort_desc(minewatch_host_signal_points{ip=%q,unit=%q} != 0)" $labels.ip $labels.unit) }}`)
	for i, sig := range names.Signals() {
		if i > 0 {
			b.WriteString("{{ else ")
		} else {
			b.WriteString("{{ ")
		}
		fmt.Fprintf(&b, `if eq .Labels.signal %q }}%s`, sig.ID, sig.Zh)
	}
	b.WriteString(`{{ else }}{{ .Labels.signal }}{{ end }}（{{ printf "%.0f" .Value }}分）；{{ else }}无记录{{ end }}`)
	return b.String()
}

// stripQueryAnnotations drops every annotation that runs a template query.
func stripQueryAnnotations(live []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(live, &doc); err != nil {
		return nil, err
	}
	for _, g := range child(doc.Content[0], "groups").Content {
		for _, r := range child(g, "rules").Content {
			ann := child(r, "annotations")
			if ann == nil {
				continue
			}
			var keep []*yaml.Node
			for i := 0; i+1 < len(ann.Content); i += 2 {
				if !strings.Contains(ann.Content[i+1].Value, "query ") {
					keep = append(keep, ann.Content[i], ann.Content[i+1])
				}
			}
			ann.Content = keep
		}
	}
	var b bytes.Buffer
	b.WriteString("# Replay flavour of rules/cases.yml (alerts.CaseRules(Replay)): annotations that run template queries removed.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

func child(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

var casesTemplate = template.Must(template.Must(template.New("cases").Delims("[[", "]]").Parse(casesPieces)).Parse(casesYAML))
