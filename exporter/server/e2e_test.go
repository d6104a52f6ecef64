package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/minewatch/minewatch/exporter/config"
	"github.com/minewatch/minewatch/exporter/proc"
	"github.com/minewatch/minewatch/exporter/server"
	"github.com/minewatch/minewatch/exporter/testsupport"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
)

const (
	minerIP  = "10.20.3.21" // registered GPU workstation of zd-no1-middle
	poolIP   = "198.51.100.7"
	webIP    = "10.20.5.5"
	iotIP    = "10.30.1.9"
	cdnIP    = "203.0.113.80"
	brokerIP = "192.0.2.50"
)

const ledgerYAML = `units:
  - id: zd-no1-middle
    name: 郑东新区第一中学
    sector: school
    lead: {name: 张老师, email: lead@no1.example.edu.cn}
    cidrs: [10.20.0.0/16]
  - id: zd-gov-office
    name: 郑东新区政务服务中心
    sector: government
    lead: {name: 王主任, email: it@gov.example.cn}
    cidrs: [10.30.0.0/16]
assets:
  - ip: 10.20.3.21
    unit: zd-no1-middle
    name: 实验楼301 GPU工作站
    kind: gpu-workstation
    location: 实验楼301
    department: 信息中心
    owner: 李老师
`

// packetWriter builds a capture of TCP/UDP traffic with exact sizes and times.
type packetWriter struct {
	t *testing.T
	w *pcapgo.Writer
}

func (pw *packetWriter) send(ts time.Time, src, dst string, sport, dport uint16, tcp bool, flags string, payload int) {
	ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	var l4 gopacket.SerializableLayer
	if tcp {
		ip.Protocol = layers.IPProtocolTCP
		t := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: 1, Ack: 1, Window: 512}
		for _, f := range flags {
			switch f {
			case 'S':
				t.SYN = true
			case 'A':
				t.ACK = true
			case 'P':
				t.PSH = true
			case 'F':
				t.FIN = true
			}
		}
		t.SetNetworkLayerForChecksum(ip)
		l4 = t
	} else {
		ip.Protocol = layers.IPProtocolUDP
		u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		u.SetNetworkLayerForChecksum(ip)
		l4 = u
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, eth, ip, l4, gopacket.Payload(make([]byte, payload))); err != nil {
		pw.t.Fatal(err)
	}
	data := buf.Bytes()
	ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: len(data)}
	if err := pw.w.WritePacket(ci, data); err != nil {
		pw.t.Fatal(err)
	}
}

// writeCampusCapture writes 50 minutes of traffic ending shortly before now:
// an XMRig-like Stratum session from the miner to a listed pool, a web user
// downloading over HTTPS from a CDN, and an IoT device's MQTT keepalives.
// Packets must be in time order for softflowd, so they are generated per
// second across all hosts.
func writeCampusCapture(t *testing.T, path string, start time.Time) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	pw := &packetWriter{t: t, w: w}
	ms := func(s int, extra int) time.Time {
		return start.Add(time.Duration(s)*time.Second + time.Duration(extra)*time.Millisecond)
	}
	const minerPort, webPort, iotPort = 49152, 50500, 40000
	pw.send(ms(0, 0), minerIP, poolIP, minerPort, 3333, true, "S", 0)
	pw.send(ms(0, 20), poolIP, minerIP, 3333, minerPort, true, "SA", 0)
	pw.send(ms(0, 40), minerIP, poolIP, minerPort, 3333, true, "PA", 180) // login
	pw.send(ms(0, 60), poolIP, minerIP, 3333, minerPort, true, "PA", 420) // first job
	for s := 1; s < 50*60; s++ {
		switch {
		case s%45 == 0: // job notification from the pool, acked
			pw.send(ms(s, 0), poolIP, minerIP, 3333, minerPort, true, "PA", 390)
			pw.send(ms(s, 40), minerIP, poolIP, minerPort, 3333, true, "A", 0)
		case s%60 == 7: // keepalive
			pw.send(ms(s, 0), minerIP, poolIP, minerPort, 3333, true, "PA", 70)
			pw.send(ms(s, 30), poolIP, minerIP, 3333, minerPort, true, "PA", 60)
		case s%37 == 11: // share submitted, result returned
			pw.send(ms(s, 0), minerIP, poolIP, minerPort, 3333, true, "PA", 190)
			pw.send(ms(s, 35), poolIP, minerIP, 3333, minerPort, true, "PA", 70)
		}
		if s%30 == 5 { // MQTT PINGREQ / PINGRESP
			pw.send(ms(s, 0), iotIP, brokerIP, iotPort, 1883, true, "PA", 2)
			pw.send(ms(s, 50), brokerIP, iotIP, 1883, iotPort, true, "PA", 2)
		}
		if s%300 < 20 { // a web user fetching pages and video segments in bursts
			for k := 0; k < 8; k++ {
				pw.send(ms(s, 10*k), cdnIP, webIP, 443, webPort, true, "PA", 1400)
			}
			pw.send(ms(s, 90), webIP, cdnIP, webPort, 443, true, "A", 0)
		}
	}
}

func freeUDPPort(t *testing.T) int {
	p, err := proc.FreeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEndToEndSoftflowdToVictoriaMetrics runs the whole path with real parts:
// a capture replayed by Debian's softflowd as NetFlow v9 into the exporter,
// the exporter pushing into a real VictoriaMetrics, and the verdicts read
// back from VictoriaMetrics' query API.
func TestEndToEndSoftflowdToVictoriaMetrics(t *testing.T) {
	softflowd := testsupport.Require(t, "softflowd")
	vm := vmtest.Start(t)
	dir := t.TempDir()

	capture := filepath.Join(dir, "campus.pcap")
	writeCampusCapture(t, capture, time.Now().Add(-55*time.Minute).Truncate(time.Second))
	os.WriteFile(filepath.Join(dir, "ledger.yaml"), []byte(ledgerYAML), 0o644)
	os.WriteFile(filepath.Join(dir, "pools.txt"), []byte("# bureau list\n"+poolIP+":3333,XMR,bureau-2026-11\n"), 0o644)

	nfPort := freeUDPPort(t)
	httpPort, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfgText := fmt.Sprintf(`listen:
  netflow: "127.0.0.1:%d"
  sflow: ""
  http: "127.0.0.1:%d"
ledger:
  files: [ledger.yaml]
intel:
  files: [pools.txt]
push:
  url: %s/api/v1/import/prometheus
  interval: 1s
`, nfPort, httpPort, vm.URL)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfgText), 0o644)
	cfg, err := config.Load(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); srv.Wait() }()

	// softflowd reads the capture and exports every flow as NetFlow v9.
	out, err := exec.Command(softflowd, "-r", capture, "-n", fmt.Sprintf("127.0.0.1:%d", nfPort), "-v", "9", "-d").CombinedOutput()
	if err != nil {
		t.Fatalf("softflowd: %v\n%s", err, out)
	}

	deadline := time.Now().Add(60 * time.Second)
	mining := fmt.Sprintf(`minewatch_host_mining{ip=%q,unit="zd-no1-middle"}`, minerIP)
	contacts := fmt.Sprintf(`sum(minewatch_pool_contacts_total{ip=%q,unit="zd-no1-middle",pool=%q})`, minerIP, poolIP+":3333")
	for {
		http.Get(vm.URL + "/internal/force_flush")
		ms, cs := vm.Query(t, mining), vm.Query(t, contacts)
		if len(ms) > 1 || len(cs) > 1 {
			t.Fatalf("mining %+v, contacts %+v: want one series each", ms, cs)
		}
		if len(ms) == 1 && ms[0].Value == 1 && len(cs) == 1 && cs[0].Value > 0 {
			t.Logf("miner flagged in VictoriaMetrics: mining=%v pool contacts=%v", ms[0].Value, cs[0].Value)
			break
		}
		if time.Now().After(deadline) {
			resp, _ := http.Get("http://" + srv.Addrs.HTTP.String() + "/api/hosts")
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("miner not flagged in VictoriaMetrics within 60s (mining=%+v contacts=%+v); exporter says:\n%s", ms, cs, body)
		}
		time.Sleep(time.Second)
	}
	for _, ip := range []string{webIP, iotIP} {
		for _, r := range vm.Query(t, fmt.Sprintf(`max(minewatch_host_mining{ip=%q})`, ip)) {
			if r.Value != 0 {
				t.Errorf("ordinary host %s flagged as mining in VictoriaMetrics", ip)
			}
		}
	}
	// The explanation is served beside the metrics.
	resp, err := http.Get("http://" + srv.Addrs.HTTP.String() + "/api/hosts/" + minerIP)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Mining  bool
		Reasons []struct{ Signal string }
	}
	json.NewDecoder(resp.Body).Decode(&rep)
	resp.Body.Close()
	signals := map[string]bool{}
	for _, r := range rep.Reasons {
		signals[r.Signal] = true
	}
	if !rep.Mining || !signals["pool_contact"] {
		t.Errorf("/api/hosts/%s: mining=%v reasons=%v, want mining with a pool_contact reason", minerIP, rep.Mining, rep.Reasons)
	}
}
