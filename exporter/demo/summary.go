package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/mailcatch"
	"github.com/minewatch/minewatch/exporter/sim"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
)

// summary prints what happened: the weekly review and tracker computed by
// the plugin's campaign logic, the ground truth beside them, and the emails.
func (d *run) summary(ctx context.Context, s *sim.Scenario, res *sim.Result) error {
	// The campaign source as the datasource builds it: one constructor, the
	// demo's ledger for device and person, its case store for dispositions.
	src, err := campaign.NewSource(campaign.SourceOptions{URL: d.vm})
	if err != nil {
		return err
	}
	led, err := ledger.Load([]string{filepath.Join(d.dir, "ledger.yaml")}, nil)
	if err != nil {
		return err
	}
	src.Assets = campaign.LedgerAssets{Ledger: led}
	cases, err := casestore.Open(ctx, filepath.Join(d.dir, "cases.db"))
	if err != nil {
		return err
	}
	defer cases.Close()
	src.Dispositions = cases
	loc := src.Config.Location
	now := time.Now()
	qctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// The planted miners, split by what the demo's exporter can do with them:
	// it runs as shipped, without the active prober (see needsProbe), so a
	// miner only a probe could confirm is a suspect, never in the tracker.
	var confirmable, probeOnly []string
	var probeIPs []string
	planted := 0
	for i := range res.Truth {
		t := &res.Truth[i]
		if !t.Mining() {
			continue
		}
		planted++
		if why := needsProbe(s, t); why != "" {
			probeOnly = append(probeOnly, t.IP+" "+t.Behaviour+" "+why)
			probeIPs = append(probeIPs, t.IP)
			continue
		}
		confirmable = append(confirmable, t.IP+" "+t.Behaviour)
	}
	out := d.o.Out
	fmt.Fprintf(out, "\n仿真真值 ground truth: %d hosts, 布设矿机 %d miners planted, 其中可确认 %d confirmable: %s\n",
		len(res.Hosts), planted, len(confirmable), strings.Join(confirmable, ", "))
	if len(probeOnly) > 0 {
		fmt.Fprintf(out, "需主动探测才能确认 %d need the active prober to be confirmed "+
			"(演示与默认配置一样未启用探测，这些只会是可疑、不计入台账 probing is off in the demo as by default: "+
			"they can only be suspects, never in the tracker): %s\n", len(probeOnly), strings.Join(probeOnly, ", "))
		if err := d.suspectHistory(qctx, probeIPs, s.Start, now); err != nil {
			return err
		}
	}
	for _, week := range []campaign.Week{campaign.WeekOf(now.Add(-7*24*time.Hour), loc), campaign.WeekOf(now, loc)} {
		rows, err := src.WeeklyReview(qctx, campaign.Filter{}, week, now, nil)
		if err != nil {
			return fmt.Errorf("weekly review: %w", err)
		}
		fmt.Fprintf(out, "\n周研判 weekly review %s (%s – %s)\n", week, campaign.FormatTime(week.Start(loc), loc), campaign.FormatTime(week.End(loc), loc))
		if err := campaign.Render(out, campaign.ReviewTable(rows), "table", loc); err != nil {
			return err
		}
	}
	rows, err := src.Tracker(qctx, campaign.Filter{}, nil, s.Start, now, nil)
	if err != nil {
		return fmt.Errorf("tracker: %w", err)
	}
	fmt.Fprintf(out, "\nIP清零台账 tracker (%s – now)\n", campaign.FormatTime(s.Start, loc))
	if err := campaign.Render(out, campaign.TrackerTable(rows), "table", loc); err != nil {
		return err
	}
	msgs := d.mail.Messages()
	fmt.Fprintf(out, "\n告警邮件 emails received: %d (saved in %s)\n", len(msgs), filepath.Join(d.dir, "mail"))
	for i, m := range msgs {
		fmt.Fprintf(out, "  to %s: %s\n", strings.Join(m.To, ", "), m.Subject)
		if err := saveMail(filepath.Join(d.dir, "mail"), i, m); err != nil {
			return err
		}
	}
	// Each email against the tracker as of the time its data was evaluated
	// (数据时间): 当前状态 and the rest are as of that round, which may lie a
	// round or a group interval before the email arrived.
	trackers := map[int64][]campaign.TrackerRow{}
	trackerAt := func(at time.Time) ([]campaign.TrackerRow, error) {
		if rows, ok := trackers[at.UnixNano()]; ok {
			return rows, nil
		}
		rows, err := src.Tracker(qctx, campaign.Filter{}, nil, s.Start, at, nil)
		if err != nil {
			return nil, fmt.Errorf("tracker at %s: %w", campaign.FormatTime(at, loc), err)
		}
		trackers[at.UnixNano()] = rows
		return rows, nil
	}
	checked, diffs, notes := 0, []string(nil), []string(nil)
	for _, m := range msgs {
		n, dd, nn, err := compareMail(m.Subject, m.Text, m.Received, trackerAt, loc)
		if err != nil {
			return err
		}
		checked, diffs, notes = checked+n, append(diffs, dd...), append(notes, nn...)
	}
	fmt.Fprintf(out, "邮件与台账核对 emails against the tracker: %d IPs checked, %d disagreements\n", checked, len(diffs))
	for _, n := range notes {
		fmt.Fprintf(out, "  注意 %s\n", n)
	}
	for _, d := range diffs {
		fmt.Fprintf(out, "  不一致 %s\n", d)
	}
	return nil
}

// saveMail writes one received email as NN.eml (as sent) and NN.txt (its text part).
func saveMail(dir string, i int, m mailcatch.Message) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(dir, fmt.Sprintf("%02d", i+1))
	if err := os.WriteFile(base+".eml", m.Raw, 0o644); err != nil {
		return err
	}
	return os.WriteFile(base+".txt", []byte(m.Text), 0o644)
}

var (
	mailIP       = regexp.MustCompile(`IP地址：(\S+)`)
	mailState    = regexp.MustCompile(`当前状态：(\S+)`)
	mailDataTime = regexp.MustCompile(`数据时间：(\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?)（北京时间）`)
	mailScore    = regexp.MustCompile(`最高评分（近7天）：(\S+)`)
	mailDeadline = regexp.MustCompile(`处置期限：(\d{4}-\d\d-\d\d \d\d:\d\d)（北京时间，(定位设备和责任人|提交书面报告)）`)
	mailReport   = regexp.MustCompile(`书面报告期限：(\d{4}-\d\d-\d\d \d\d:\d\d)（北京时间`)
)

// dataTime is the 数据时间 of an IP block (alerts/templates/email.tmpl): the
// rule evaluation its annotations come from, in Beijing time (loc), to the
// second (or the minute). ok is false when the block has no such line.
func dataTime(block string, loc *time.Location) (time.Time, bool) {
	m := mailDataTime.FindStringSubmatch(block)
	if m == nil {
		return time.Time{}, false
	}
	layout := "2006-01-02 15:04:05"
	if len(m[1]) == len("2006-01-02 15:04") {
		layout = "2006-01-02 15:04"
	}
	t, err := time.ParseInLocation(layout, m[1], loc)
	return t, err == nil
}

// compareMail checks every IP block of an email (alerts/templates/email.tmpl)
// against the tracker's row for that IP as of the block's 数据时间 (trackerAt
// gives the rows at a moment): state, highest score and both deadlines must
// read the same. A block without 数据时间 is compared at received, the time
// the email arrived, and says so in notes. It returns the IPs checked, what
// differs and those notes; err only when the tracker could not be read.
func compareMail(subject, text string, received time.Time, trackerAt func(time.Time) ([]campaign.TrackerRow, error), loc *time.Location) (n int, diffs, notes []string, err error) {
	for _, block := range strings.Split(text, "----------------------------------------") {
		ip := mailIP.FindStringSubmatch(block)
		if ip == nil {
			continue
		}
		n++
		at, ok := dataTime(block, loc)
		if !ok {
			at = received
			notes = append(notes, fmt.Sprintf("%s: %s has no 数据时间 line: compared with the tracker at the email's arrival %s, not at its data's time",
				subject, ip[1], campaign.FormatTime(received, loc)))
		}
		rows, err := trackerAt(at)
		if err != nil {
			return n, diffs, notes, err
		}
		var r campaign.TrackerRow
		found := false
		for _, row := range rows {
			if row.IP == ip[1] {
				r, found = row, true
				break
			}
		}
		if !found {
			diffs = append(diffs, fmt.Sprintf("%s: %s is not in the tracker at %s", subject, ip[1], at.In(loc).Format(time.DateTime)))
			continue
		}
		differ := func(what, mail, tracker string) {
			if mail != tracker {
				diffs = append(diffs, fmt.Sprintf("%s: %s %s: email %q, tracker at %s %q", subject, ip[1], what, mail, at.In(loc).Format(time.DateTime), tracker))
			}
		}
		field := func(re *regexp.Regexp) string {
			if m := re.FindStringSubmatch(block); m != nil {
				return m[1]
			}
			return "(none)"
		}
		differ("state", field(mailState), campaign.StateLabel(r.State))
		differ("max score", field(mailScore), fmt.Sprintf("%.0f", r.MaxScore))
		differ("report deadline", field(mailReport), campaign.FormatTime(r.ReportDeadline, loc))
		if m := mailDeadline.FindStringSubmatch(block); m == nil {
			differ("deadline", "(none)", "a deadline")
		} else if m[2] == "定位设备和责任人" {
			differ("locate deadline", m[1], campaign.FormatTime(r.LocateDeadline, loc))
		} else {
			differ("report deadline", m[1], campaign.FormatTime(r.ReportDeadline, loc))
		}
	}
	return n, diffs, notes, nil
}

// needsProbe says why a planted miner cannot be confirmed without the active
// prober (Chinese first), or "" when its flow records and the intel list are
// enough. The engine confirms a host (flags, counts, emails it) only on a live
// contact with a pool listed by address or confirmed by a probe; behaviour
// alone makes a suspect (exporter/score evaluate.go, the two stages). A pool
// listed by domain sits on the scenario's shared CDN address, which only the
// SNI probe ties to the domain; an unlisted pool only a probe finds. The
// demo's exporter has probe.enabled false, the shipped default, and its pools
// are simulated addresses no probe could reach, so such a miner stays 可疑.
func needsProbe(s *sim.Scenario, t *sim.Truth) string {
	for i := range s.Pools {
		p := &s.Pools[i]
		if p.ID != t.Pool {
			continue
		}
		switch {
		case !p.Listed:
			return "（矿池未登记 unlisted pool）"
		case p.Domain != "":
			return "（矿池域名在共享CDN地址上 pool listed by domain, on a shared CDN address）"
		}
		return ""
	}
	return ""
}

// suspectHistory prints, for the miners only a probe could confirm, what the
// history in VictoriaMetrics holds of them: the hours they were suspects and
// confirmed, and their highest score, so that staff see they were noticed.
func (d *run) suspectHistory(ctx context.Context, ips []string, from, to time.Time) error {
	src, err := campaign.NewSource(campaign.SourceOptions{URL: d.vm})
	if err != nil {
		return err
	}
	sel := fmt.Sprintf(`{ip=~"%s"}`, strings.ReplaceAll(strings.Join(ips, "|"), ".", `\\.`))
	win := fmt.Sprintf("%ds", int64(to.Sub(from).Seconds()))
	// Hours with at least one sample at 1: the tracker's precision (campaign.Bucket).
	hours := func(metric string) string {
		return fmt.Sprintf("sum by (ip) (count_over_time((max by (ip) (max_over_time(%s%s[1h])) > 0)[%s:1h]))", metric, sel, win)
	}
	queries := []struct{ name, q string }{
		{"suspect", hours("minewatch_host_suspect")},
		{"mining", hours("minewatch_host_mining")},
		{"score", fmt.Sprintf("max by (ip) (max_over_time(minewatch_host_score%s[%s]))", sel, win)},
	}
	got := map[string]map[string]float64{}
	for _, q := range queries {
		v, _, err := src.API.Query(ctx, q.q, to)
		if err != nil {
			return fmt.Errorf("suspects' history: %s: %w", q.q, err)
		}
		vec, _ := v.(model.Vector)
		for _, smp := range vec {
			ip := string(smp.Metric["ip"])
			if got[ip] == nil {
				got[ip] = map[string]float64{}
			}
			got[ip][q.name] = float64(smp.Value)
		}
	}
	for _, ip := range ips {
		g := got[ip]
		fmt.Fprintf(d.o.Out, "  %s: 可疑 suspect %.0f h, 确认 confirmed %.0f h, 最高评分 highest score %.0f (VictoriaMetrics, %s – now)\n",
			ip, g["suspect"], g["mining"], g["score"], campaign.FormatTime(from, src.Config.Location))
	}
	return nil
}
