package main_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/encode"
	"github.com/minewatch/minewatch/exporter/flow"
)

const (
	poolMiner  = "10.20.3.21"   // mines to a listed pool
	proxyMiner = "10.20.7.7"    // mines through a private TLS proxy: a suspect on the session profile alone (not confirmed)
	listedPool = "198.51.100.7" // in pools.txt
	privProxy  = "203.0.113.9"
)

// stratumRecords is an XMRig-like session as a router with a 15 s inactive
// timeout exports it: a small record pair for every job push and share.
func stratumRecords(rng *rand.Rand, host, remote string, rport, hport uint16, from, to time.Time) []flow.Record {
	h, r := netip.MustParseAddr(host), netip.MustParseAddr(remote)
	var out []flow.Record
	mk := func(t int64, outbound bool, pkts, bytes uint64) {
		rec := flow.Record{Start: t, End: t + 40, Proto: 6, TCPFlags: 0x18, Packets: pkts, Bytes: bytes, SamplingRate: 1}
		if outbound {
			rec.Src, rec.Dst, rec.SrcPort, rec.DstPort = h, r, hport, rport
		} else {
			rec.Src, rec.Dst, rec.SrcPort, rec.DstPort = r, h, rport, hport
		}
		out = append(out, rec)
	}
	for t := from.UnixMilli(); t < to.UnixMilli(); t += int64(10_000 + rng.IntN(50_000)) {
		if rng.IntN(3) == 0 {
			mk(t, false, 1, 52+380+uint64(rng.IntN(80)))
			mk(t+20, true, 1, 52)
		} else {
			mk(t, true, 1, 52+180+uint64(rng.IntN(40)))
			mk(t+30, false, 2, 52+70+52)
		}
	}
	return out
}

func sendNetFlow(t *testing.T, port int, recs []flow.Record) {
	t.Helper()
	slices.SortFunc(recs, func(a, b flow.Record) int { return int(a.End - b.End) })
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ex := encode.NewExporter(flow.NetFlowV9, encode.Options{})
	ex.Encode(time.Now(), recs, func(b []byte) {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // loopback socket buffers are small
	})
}

type hostReport struct {
	Mining       bool
	Suspect      bool
	Score        float64
	FirstSeen    int64 `json:"first_seen_ms"`
	FlaggedSince int64 `json:"flagged_since_ms"`
	SuspectSince int64 `json:"suspect_since_ms"`
	Reasons      []struct{ Signal string }
}

func (h hostReport) signals() []string {
	var s []string
	for _, r := range h.Reasons {
		s = append(s, r.Signal)
	}
	slices.Sort(s)
	return s
}

// report returns /api/hosts/ip, ok=false when the host is not tracked.
func (e *exporter) report(ip string) (hostReport, bool) {
	e.t.Helper()
	code, body := e.get("/api/hosts/" + ip)
	var r hostReport
	if code == 404 {
		return r, false
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		e.t.Fatalf("/api/hosts/%s: %d %v: %s", ip, code, err, body)
	}
	return r, true
}

func (e *exporter) metricValue(prefix string) float64 {
	e.t.Helper()
	l := e.metricLine(prefix)
	if l == "" {
		return -1
	}
	v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
	if err != nil {
		e.t.Fatalf("%q: %v", l, err)
	}
	return v
}

func waitFor(t *testing.T, what string, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

const snapshotConfig = `listen:
  http: "127.0.0.1:%d"
  netflow: "127.0.0.1:%d"
  sflow: ""
ledger:
  files: [ledger.yaml]
intel:
  files: [pools.txt]
snapshot:
  file: state/minewatch.snap
  interval: 1s
`

// kill -9 and restart: the flagged host is still flagged and the suspect
// still a suspect, with the same reasons, first-seen and flagged- or
// suspect-since, without any new traffic; the pool counter does not go below
// what /metrics showed before the kill.
func TestEvidenceSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ledger.yaml"), []byte(testLedger), 0o644)
	os.WriteFile(filepath.Join(dir, "pools.txt"), []byte(listedPool+":3333,XMR,bureau-2026-11\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "state"), 0o700)
	e := startExporter(t, dir, snapshotConfig)

	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	recs := stratumRecords(rng, poolMiner, listedPool, 3333, 49152, now.Add(-20*time.Minute), now)
	recs = append(recs, stratumRecords(rng, proxyMiner, privProxy, 443, 50000, now.Add(-75*time.Minute), now)...)
	sendNetFlow(t, e.nfPort, recs)

	var before map[string]hostReport
	// The pool miner is confirmed (listed pool); the proxied one, without
	// intel, is a suspect until a prober confirms its endpoint.
	stage := func(ip string, r hostReport) bool {
		if ip == proxyMiner {
			return r.Suspect && !r.Mining
		}
		return r.Mining
	}
	waitFor(t, "pool miner flagged, proxied miner a suspect", 30*time.Second, func() bool {
		before = map[string]hostReport{}
		for _, ip := range []string{poolMiner, proxyMiner} {
			r, ok := e.report(ip)
			if !ok || !stage(ip, r) {
				return false
			}
			before[ip] = r
		}
		return true
	})
	flaggedAt := float64(time.Now().UnixMilli()) / 1000
	waitFor(t, "a snapshot after the flag", 10*time.Second, func() bool {
		return e.metricValue("minewatch_state_snapshot_last_success_timestamp_seconds") > flaggedAt
	})
	counter := fmt.Sprintf(`minewatch_pool_contacts_total{ip=%q`, poolMiner)
	exported := e.metricValue(counter)
	if exported <= 0 {
		t.Fatalf("pool counter not exported after a snapshot: %v", exported)
	}
	e.stop(syscall.SIGKILL)

	e2 := startExporter(t, dir, snapshotConfig)
	e2.waitLog("state restored from snapshot", time.Second)
	for ip, b := range before {
		a, ok := e2.report(ip)
		if !ok || !stage(ip, a) {
			t.Fatalf("%s not in its stage after kill -9 and restart: %+v", ip, a)
		}
		if a.FirstSeen != b.FirstSeen || a.FlaggedSince != b.FlaggedSince || a.SuspectSince != b.SuspectSince {
			t.Errorf("%s: first seen / flagged since / suspect since %d/%d/%d after restart, want %d/%d/%d", ip, a.FirstSeen, a.FlaggedSince, a.SuspectSince, b.FirstSeen, b.FlaggedSince, b.SuspectSince)
		}
		if !slices.Equal(a.signals(), b.signals()) {
			t.Errorf("%s: reasons %v after restart, want %v", ip, a.signals(), b.signals())
		}
	}
	if got := before[proxyMiner].signals(); !slices.Contains(got, "stratum_profile") || slices.Contains(got, "pool_contact") {
		t.Errorf("proxied miner's reasons %v: want the Stratum profile and no pool contact", got)
	}
	if v := e2.metricValue(counter); v < exported {
		t.Errorf("pool counter %v after restart, below the %v exported before the kill", v, exported)
	}

	// SIGTERM writes a last snapshot; the next start restores it.
	e2.stop(syscall.SIGTERM)
	if !strings.Contains(e2.log.String(), "minewatch-exporter stopped") {
		t.Errorf("no clean stop:\n%s", e2.log.String())
	}
	e3 := startExporter(t, dir, snapshotConfig)
	e3.waitLog("state restored from snapshot", time.Second)
	if r, ok := e3.report(proxyMiner); !ok || !r.Suspect {
		t.Errorf("proxied miner not a suspect after SIGTERM and restart: %+v", r)
	}
	e3.stop(syscall.SIGTERM)
}

// A damaged snapshot or one of another format version is refused with a
// clear log line; the exporter starts empty and keeps the file aside.
func TestBadSnapshotStartsEmpty(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"corrupt", "MWSTATE\n\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00garbagegarbage!!", "checksum mismatch"},
		{"future version", "MWSTATE\n\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "format version 7, this exporter reads version 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "ledger.yaml"), []byte(testLedger), 0o644)
			os.WriteFile(filepath.Join(dir, "pools.txt"), []byte(listedPool+"\n"), 0o644)
			os.Mkdir(filepath.Join(dir, "state"), 0o700)
			snap := filepath.Join(dir, "state/minewatch.snap")
			os.WriteFile(snap, []byte(tc.data), 0o600)
			e := startExporter(t, dir, snapshotConfig)
			e.waitLog("state snapshot refused, starting with empty state", time.Second)
			e.waitLog(tc.want, time.Second)
			if got, err := os.ReadFile(snap + ".refused"); err != nil || string(got) != tc.data {
				t.Errorf("refused snapshot not kept aside: %v", err)
			}
			if v := e.metricValue("minewatch_state_hosts"); v > 0 {
				t.Errorf("state hosts %v after a refused snapshot", v)
			}
			e.stop(syscall.SIGTERM)
		})
	}
}

// sendPoolContacts sends ten minutes of the registered workstation's
// Stratum session to the listed pool.
func sendPoolContacts(t *testing.T, e *exporter) {
	t.Helper()
	now := time.Now()
	sendNetFlow(t, e.nfPort, stratumRecords(rand.New(rand.NewPCG(5, 6)), poolMiner, listedPool, 3333, 49152, now.Add(-10*time.Minute), now))
}
