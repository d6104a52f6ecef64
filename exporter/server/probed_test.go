package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/config"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/proc"
	"github.com/minewatch/minewatch/exporter/server"
)

// startIn starts an exporter whose state directory is dir/state, logging
// into logs; stop ends it and waits.
func startIn(t *testing.T, dir string, logs *bytes.Buffer) (srv *server.Server, stop func()) {
	t.Helper()
	httpPort, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfgText := fmt.Sprintf(`listen:
  netflow: ""
  sflow: ""
  http: "127.0.0.1:%d"
ledger:
  files: [ledger.yaml]
intel:
  files: [pools.txt]
snapshot:
  file: state/mw.snap
`, httpPort)
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err = server.Start(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return srv, func() {
		cancel()
		if err := srv.Wait(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}
}

func scrapeMetrics(t *testing.T, srv *server.Server) string {
	t.Helper()
	resp, err := http.Get("http://" + srv.Addrs.HTTP.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestProbeDecisionsSurviveARestart: what the prober confirmed and refuted
// (with a name at a pool domain's shared address too, and the host noted
// there) is back after the exporter restarts, with the first confirmation
// and the expiry it had; a decision that expired meanwhile is not; a
// corrupt file is kept aside as .refused, logged, and the exporter starts.
func TestProbeDecisionsSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "ledger.yaml"), []byte(ledgerYAML), 0o644)
	os.WriteFile(filepath.Join(dir, "pools.txt"), []byte("# bureau list\n"+poolIP+":3333,XMR,bureau-2026-11\n"), 0o644)

	now := time.Now().Truncate(time.Second)
	first := now.Add(-2 * time.Hour)
	pool := netip.MustParseAddrPort("198.51.100.99:14444")
	web := netip.MustParseAddrPort("198.51.100.80:443")
	soon := netip.MustParseAddrPort("198.51.100.81:443")
	var logs bytes.Buffer
	srv, stop := startIn(t, dir, &logs)
	srv.Intel.Confirm(pool, intel.Evidence{At: first, Protocol: "stratum", Excerpt: `{"id":1,"result":[[["mining.notify"`, Until: now.Add(7 * 24 * time.Hour)})
	srv.Intel.Confirm(pool, intel.Evidence{At: now, Protocol: "stratum", Excerpt: `{"id":1,"result":[[["mining.notify"`, Until: now.Add(7 * 24 * time.Hour)})
	srv.Intel.Refute(web, intel.Evidence{At: now, Protocol: "stratum", Excerpt: "no mining answer (TLS stratum: HTTP answer)", Until: now.Add(24 * time.Hour)})
	soonUntil := time.Now().Add(3 * time.Second)
	srv.Intel.Refute(soon, intel.Evidence{At: now, Protocol: "stratum", Excerpt: "no mining answer", Until: soonUntil})
	want := fmt.Sprintf(`minewatch_pool_confirmed{endpoint="%s",domain="",protocol="stratum",tls="false"} %d`, pool, first.Unix())
	if m := scrapeMetrics(t, srv); !strings.Contains(m, want) {
		t.Fatalf("first run's /metrics lacks %s", want)
	}
	stop()
	time.Sleep(time.Until(soonUntil) + 100*time.Millisecond) // the short refutation expires while the exporter is down

	logs.Reset()
	srv, stop = startIn(t, dir, &logs)
	c := srv.Intel.Current().Confirmed(pool)
	if c == nil || c.Probe.Protocol != "stratum" || !c.Probe.First.Equal(first) || !c.Probe.Until.Equal(now.Add(7*24*time.Hour)) {
		t.Fatalf("after the restart the confirmation is %+v", c)
	}
	if e := srv.Intel.Current().Match(pool.Addr(), pool.Port()); e == nil || e.Kind != intel.KindConfirmed {
		t.Errorf("the restored confirmation does not match: %+v", e)
	}
	if !srv.Intel.Current().Allowed(web.Addr(), web.Port()) {
		t.Error("the restored refutation does not stop the endpoint making suspects")
	}
	if srv.Intel.Current().Refuted(soon) != nil {
		t.Error("a refutation that expired while the exporter was down came back")
	}
	if !strings.Contains(logs.String(), "probe decisions restored") || !strings.Contains(logs.String(), "expired=1") {
		t.Errorf("restart log lacks the restored and expired counts:\n%s", logs.String())
	}
	if m := scrapeMetrics(t, srv); !strings.Contains(m, want) {
		t.Errorf("after the restart /metrics lacks %s", want)
	}
	stop()

	// A corrupt file: kept aside, said so, and the exporter starts (empty).
	path := filepath.Join(dir, "state", intel.ProbedFileName)
	if err := os.WriteFile(path, []byte(`{"version":1,"decisions":[{"endpoint":"not an endpoint","at":"2026-12-01T00:00:00Z"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	srv, stop = startIn(t, dir, &logs)
	defer stop()
	if srv.Intel.Current().Confirmed(pool) != nil {
		t.Error("decisions came from a refused file")
	}
	if _, err := os.Stat(path + ".refused"); err != nil {
		t.Errorf("the refused file was not kept: %v", err)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "probe decisions refused") {
		t.Errorf("no error logged for the corrupt file:\n%s", logs.String())
	}
}
