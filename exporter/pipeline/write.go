package pipeline

import (
	"bufio"
	"io"
	"strconv"
	"strings"

	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/exporter/score"
)

// WriteMetrics writes the per-host series of the hosts worth watching, and the
// unit info series, in the Prometheus text format (names' catalogue, docs/metrics.md).
// tsMillis > 0 stamps every sample: replays and simulations write history on
// the flow clock through VictoriaMetrics' import API; 0 leaves samples unstamped
// for /metrics scrapes and pushes.
func (p *Pipeline) WriteMetrics(w io.Writer, tsMillis int64) {
	bw := bufio.NewWriterSize(w, 64<<10)
	defer bw.Flush()
	ts := ""
	if tsMillis > 0 {
		ts = " " + strconv.FormatInt(tsMillis, 10)
	}
	led := p.ledger.Load()
	for _, u := range led.Units() {
		sample(bw, names.UnitInfo, ts, 1, "unit", u.ID, "name", u.Name, "sector", u.Sector, "parent", u.Parent)
	}
	p.engine.Watched(func(r *score.Report) {
		ip := r.IP.String()
		sample(bw, names.HostScore, ts, r.Score, "ip", ip, "unit", r.Unit)
		mining := 0.0
		if r.Mining {
			mining = 1
		}
		sample(bw, names.HostMining, ts, mining, "ip", ip, "unit", r.Unit, "class", r.Class)
		// A suspect has its own series: minewatch_host_mining (emails, IP清零)
		// stays 0 until the host is confirmed.
		suspect := 0.0
		if r.Suspect {
			suspect = 1
		}
		sample(bw, names.HostSuspect, ts, suspect, "ip", ip, "unit", r.Unit)
		sample(bw, names.HostMachines, ts, float64(r.Machines), "ip", ip, "unit", r.Unit)
		for _, pc := range r.PoolContacts {
			coin := pc.Coin
			if coin == "" {
				coin = "unknown"
			}
			sample(bw, names.PoolContacts, ts, float64(pc.Count), "ip", ip, "unit", r.Unit, "pool", pc.Pool, "coin", coin)
		}
		for _, reason := range r.Reasons {
			sample(bw, names.HostSignalPoints, ts, reason.Points, "ip", ip, "unit", r.Unit, "signal", reason.Signal)
			// Where the behaviour was seen: the upward report of pools names
			// endpoints no list and no probe did (行为发现).
			if reason.Signal == names.StratumProfile && reason.Remote != "" && (r.Suspect || r.Mining) {
				sample(bw, names.HostPoolLike, ts, 1, "ip", ip, "unit", r.Unit, "endpoint", reason.Remote)
			}
		}
		if a := led.Asset(r.IP); a != nil {
			if p.personal {
				sample(bw, names.HostInfo, ts, 1, "ip", ip, "unit", r.Unit, "asset", a.Name, "kind", a.Kind,
					"location", a.Location, "department", a.Department, "owner", a.Owner, "research", strconv.FormatBool(a.Research))
			} else {
				sample(bw, names.HostInfo, ts, 1, "ip", ip, "unit", r.Unit, "kind", a.Kind, "research", strconv.FormatBool(a.Research))
			}
		}
	})
}

// sample writes one line: name{k="v",...} value[ timestamp].
func sample(w *bufio.Writer, name, ts string, v float64, kv ...string) {
	w.WriteString(name)
	w.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(kv[i])
		w.WriteString(`="`)
		labelEscaper.WriteString(w, kv[i+1])
		w.WriteByte('"')
	}
	w.WriteString("} ")
	w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	w.WriteString(ts)
	w.WriteByte('\n')
}

// labelEscaper applies the text format's label-value escapes.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
