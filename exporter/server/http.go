package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"sort"

	"github.com/minewatch/minewatch/exporter/pipeline"
	"github.com/minewatch/minewatch/exporter/score"
)

const landing = `<!doctype html><html><head><meta charset="utf-8"><title>minewatch-exporter</title></head><body>
<h1>minewatch-exporter 挖矿监测采集器</h1>
<ul>
<li><a href="metrics">/metrics</a> — 指标 metrics (Prometheus text format)</li>
<li><a href="api/hosts">/api/hosts</a> — 关注主机及判定依据 watched hosts with their reasons (JSON)</li>
<li>/api/hosts/&lt;ip&gt; — 单个IP的评分与依据 one host's score and reasons</li>
</ul></body></html>`

// Handler serves the exporter's HTTP endpoints; /debug/pprof only with pprofOn.
func Handler(p *pipeline.Pipeline, writeMetrics func(io.Writer), pprofOn bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, landing)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		writeMetrics(w)
	})
	// Profiles only when asked for (--web.enable-pprof): they show memory
	// contents such as addresses and pool names, and a CPU profile costs CPU.
	if pprofOn {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	}
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /api/hosts", func(w http.ResponseWriter, r *http.Request) {
		var hosts []score.Report
		p.Engine().Watched(func(rep *score.Report) { hosts = append(hosts, *rep) })
		sort.Slice(hosts, func(i, j int) bool {
			if hosts[i].Score != hosts[j].Score {
				return hosts[i].Score > hosts[j].Score
			}
			return hosts[i].IP.Less(hosts[j].IP)
		})
		writeJSON(w, http.StatusOK, map[string]any{"hosts": hosts})
	})
	mux.HandleFunc("GET /api/hosts/{ip}", func(w http.ResponseWriter, r *http.Request) {
		ip, err := netip.ParseAddr(r.PathValue("ip"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "not an IP address: " + r.PathValue("ip")})
			return
		}
		rep := p.Engine().Report(ip)
		if rep == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "host not tracked: " + ip.String()})
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) //nolint:errcheck // client went away
}
