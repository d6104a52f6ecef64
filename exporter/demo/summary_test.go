package demo

import (
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
)

// block is one IP block of an email as alerts/templates/email.tmpl writes it
// (the fields compareMail reads); dataTime "" leaves out the 数据时间 line.
func block(ip, state, dataTime string) string {
	var b strings.Builder
	b.WriteString("----------------------------------------\n新增挖矿IP " + ip + "（郑东新区第一中学）\nIP地址：" + ip + "\n当前状态：" + state + "\n")
	if dataTime != "" {
		b.WriteString("数据时间：" + dataTime + "（北京时间）\n")
	}
	b.WriteString("本次开始：2026-12-02 07:00（北京时间）\n最高评分（近7天）：70\n" +
		"处置期限：2026-12-04 07:00（北京时间，定位设备和责任人）\n书面报告期限：2026-12-05 07:00（北京时间，提交书面报告）\n")
	return b.String()
}

// trackerRows is a tracker that says mining for ip before quietFrom and
// quiet from then on, with the block's score and deadlines; it records the
// moments it was asked for.
type trackerRows struct {
	ip        string
	quietFrom time.Time
	asked     []time.Time
}

func (tr *trackerRows) at(t time.Time) ([]campaign.TrackerRow, error) {
	tr.asked = append(tr.asked, t)
	loc := campaign.Location()
	r := campaign.TrackerRow{IP: tr.ip, Unit: "zd-no1-middle", State: campaign.StateMining, MiningNow: true, MaxScore: 70,
		LocateDeadline: time.Date(2026, 12, 4, 7, 0, 0, 0, loc), ReportDeadline: time.Date(2026, 12, 5, 7, 0, 0, 0, loc)}
	if !t.Before(tr.quietFrom) {
		r.State, r.MiningNow = campaign.StateQuiet, false
	}
	return []campaign.TrackerRow{r}, nil
}

func TestDataTime(t *testing.T) {
	loc := campaign.Location()
	for _, c := range []struct {
		line string
		want time.Time
		ok   bool
	}{
		{"数据时间：2026-12-02 16:05:30（北京时间）", time.Date(2026, 12, 2, 8, 5, 30, 0, time.UTC), true},
		{"数据时间：2026-12-02 16:05（北京时间）", time.Date(2026, 12, 2, 8, 5, 0, 0, time.UTC), true},
		{"告警时间：2026-12-02 16:05（北京时间）", time.Time{}, false},
		{"数据时间：2026-13-02 16:05:30（北京时间）", time.Time{}, false},
	} {
		got, ok := dataTime("IP地址：10.0.0.1\n"+c.line+"\n", loc)
		if ok != c.ok || (ok && !got.Equal(c.want)) {
			t.Errorf("%s: got %v %v, want %v %v", c.line, got, ok, c.want, c.ok)
		}
	}
}

// The bad window of the demo: the data say mining at 16:00:00 (the round),
// the email arrives at 16:00:40, when the tracker says quiet. Compared at the
// 数据时间 they agree; an email that says mining where the tracker at its
// data time says quiet disagrees.
func TestCompareMailAtDataTime(t *testing.T) {
	loc := campaign.Location()
	quietFrom := time.Date(2026, 12, 2, 16, 0, 1, 0, loc)
	received := time.Date(2026, 12, 2, 16, 0, 40, 0, loc)
	const ip = "10.20.0.15"

	t.Run("agrees at the data time, not at arrival", func(t *testing.T) {
		tr := &trackerRows{ip: ip, quietFrom: quietFrom}
		n, diffs, notes, err := compareMail("s", block(ip, "挖矿中", "2026-12-02 16:00:00"), received, tr.at, loc)
		if err != nil || n != 1 || len(diffs) != 0 || len(notes) != 0 {
			t.Fatalf("n %d, diffs %q, notes %q, err %v; want 1 IP, no difference", n, diffs, notes, err)
		}
		if len(tr.asked) != 1 || !tr.asked[0].Equal(time.Date(2026, 12, 2, 16, 0, 0, 0, loc)) {
			t.Errorf("tracker asked at %v, want the data time 16:00:00 only", tr.asked)
		}
	})
	t.Run("state disagreement at the data time", func(t *testing.T) {
		tr := &trackerRows{ip: ip, quietFrom: quietFrom}
		_, diffs, _, err := compareMail("s", block(ip, "挖矿中", "2026-12-02 16:00:30"), received, tr.at, loc)
		if err != nil || len(diffs) != 1 || !strings.Contains(diffs[0], "state") || !strings.Contains(diffs[0], "静默观察") {
			t.Fatalf("diffs %q, err %v; want one state difference (email 挖矿中, tracker 静默观察)", diffs, err)
		}
	})
	t.Run("no data time: compared at arrival, and said so", func(t *testing.T) {
		tr := &trackerRows{ip: ip, quietFrom: quietFrom}
		_, diffs, notes, err := compareMail("s", block(ip, "挖矿中", ""), received, tr.at, loc)
		if err != nil || len(tr.asked) != 1 || !tr.asked[0].Equal(received) {
			t.Fatalf("tracker asked at %v (err %v), want the arrival %v", tr.asked, err, received)
		}
		if len(notes) != 1 || !strings.Contains(notes[0], "数据时间") {
			t.Errorf("notes %q, want one saying the block has no 数据时间", notes)
		}
		if len(diffs) != 1 || !strings.Contains(diffs[0], "state") {
			t.Errorf("diffs %q, want the state difference at arrival", diffs)
		}
	})
	t.Run("every block at its own data time", func(t *testing.T) {
		tr := &trackerRows{ip: ip, quietFrom: quietFrom}
		text := block(ip, "挖矿中", "2026-12-02 15:59:00") + block(ip, "静默观察", "2026-12-02 16:01:00")
		n, diffs, _, err := compareMail("s", text, received, tr.at, loc)
		if err != nil || n != 2 || len(diffs) != 0 {
			t.Errorf("n %d, diffs %q, err %v; want 2 IPs, no difference", n, diffs, err)
		}
	})
}
