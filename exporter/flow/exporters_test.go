package flow

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/minewatch/minewatch/exporter/testsupport"
)

// testFlow is one unidirectional flow of the traffic capture.
type testFlow struct {
	src, dst     string
	sport, dport uint16
	tcp          bool
	sizes        []int // IP packet lengths
}

var trafficFlows = []testFlow{
	{"10.20.3.21", "203.0.113.7", 40001, 3333, true, []int{60, 120, 120, 99, 130, 80, 1500, 46}},
	{"203.0.113.7", "10.20.3.21", 3333, 40001, true, []int{60, 300, 52, 52, 1400}},
	{"10.20.3.22", "198.51.100.9", 53000, 53, false, []int{70, 71, 72}},
	{"198.51.100.9", "10.20.3.22", 53, 53000, false, []int{200, 210}},
	{"10.20.3.23", "192.0.2.80", 40100, 443, true, []int{60, 576, 576, 576, 46}},
}

// writeTraffic writes the flows as an Ethernet pcap and returns the total IP bytes and packets.
func writeTraffic(t *testing.T, path string, start time.Time) (bytes, packets uint64) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	ts := start
	for i, fl := range trafficFlows {
		for j, size := range fl.sizes {
			eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
			ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, SrcIP: net.ParseIP(fl.src).To4(), DstIP: net.ParseIP(fl.dst).To4()}
			var l4 gopacket.SerializableLayer
			hdr := 8
			if fl.tcp {
				ip.Protocol = layers.IPProtocolTCP
				tcp := &layers.TCP{SrcPort: layers.TCPPort(fl.sport), DstPort: layers.TCPPort(fl.dport), Seq: uint32(j * 1000), Window: 1000, DataOffset: 5}
				tcp.SYN = j == 0
				tcp.ACK = j > 0
				tcp.PSH = j > 0 && j < len(fl.sizes)-1
				tcp.FIN = j == len(fl.sizes)-1
				tcp.SetNetworkLayerForChecksum(ip)
				l4, hdr = tcp, 20
			} else {
				ip.Protocol = layers.IPProtocolUDP
				udp := &layers.UDP{SrcPort: layers.UDPPort(fl.sport), DstPort: layers.UDPPort(fl.dport)}
				udp.SetNetworkLayerForChecksum(ip)
				l4 = udp
			}
			payload := gopacket.Payload(make([]byte, size-20-hdr))
			buf := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, l4, payload); err != nil {
				t.Fatal(err)
			}
			ts = ts.Add(time.Duration(100+i*10) * time.Millisecond)
			if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes()); err != nil {
				t.Fatal(err)
			}
			bytes += uint64(size)
			packets++
		}
	}
	return bytes, packets
}

// datagram is one export datagram caught on loopback.
type datagram struct {
	from netip.AddrPort
	at   time.Time
	b    []byte
}

// catchExports listens on a free loopback UDP port until stop is called.
func catchExports(t *testing.T) (port int, quiet func(time.Duration) bool, stop func() []datagram) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []datagram
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, datagram{from, time.Now(), append([]byte(nil), buf[:n]...)})
			mu.Unlock()
		}
	}()
	// quiet: something arrived and nothing more for d.
	quiet = func(d time.Duration) bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0 && time.Since(got[len(got)-1].at) > d
	}
	return conn.LocalAddr().(*net.UDPAddr).Port, quiet, func() []datagram {
		conn.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return got
	}
}

// writeExports stores caught datagrams in a pcap (Ethernet/IPv4/UDP to port) for tshark.
func writeExports(t *testing.T, path string, port int, dgs []datagram) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	for _, d := range dgs {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(127, 0, 0, 1), DstIP: net.IPv4(127, 0, 0, 1)}
		udp := &layers.UDP{SrcPort: layers.UDPPort(d.from.Port()), DstPort: layers.UDPPort(port)}
		udp.SetNetworkLayerForChecksum(ip)
		b := d.b
		if len(b) >= 20 && b[0] == 0 && b[1] == 9 {
			// softflowd's v9 header counts data records only; tshark, like goflow2,
			// reads that many flowsets and would stop at the templates. Give tshark
			// the header with the flowset count our decoder also uses.
			b = fixV9Count(b)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(b)); err != nil {
			t.Fatal(err)
		}
		w.WritePacket(gopacket.CaptureInfo{Timestamp: d.at, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes())
	}
}

// tsharkTotals has tshark decode the export capture and sums the flow records' bytes and packets.
func tsharkTotals(t *testing.T, pcap string, port int, dissector string, fields ...string) (records int, sums []uint64) {
	args := []string{"-r", pcap, "-d", fmt.Sprintf("udp.port==%d,%s", port, dissector), "-T", "fields", "-E", "separator=;", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, testsupport.Require(t, "tshark"), args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	sums = make([]uint64, len(fields))
	counts := make([]int, len(fields))
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		for i, col := range strings.Split(line, ";") {
			if col == "" || i >= len(fields) {
				continue
			}
			for _, v := range strings.Split(col, ",") {
				n, err := strconv.ParseUint(v, 0, 64)
				if err != nil {
					t.Fatalf("tshark value %q of %s: %v", v, fields[i], err)
				}
				sums[i] += n
				counts[i]++
			}
		}
	}
	return counts[0], sums
}

func decodeCaught(t *testing.T, dgs []datagram, sflow bool) (recs []Record) {
	d := NewDecoder(Options{Metrics: metrics.NewSet()})
	for _, dg := range dgs {
		var err error
		if sflow {
			err = d.DecodeSFlow(dg.from, dg.at, dg.b, func(r *Record) { recs = append(recs, *r) })
		} else {
			err = d.DecodeNetFlow(dg.from, dg.at, dg.b, func(r *Record) { recs = append(recs, *r) })
		}
		if err != nil {
			t.Errorf("decoding an export of the real exporter: %v", err)
		}
	}
	return recs
}

func TestSoftflowdExports(t *testing.T) {
	softflowd := testsupport.Require(t, "softflowd")
	testsupport.Require(t, "tshark")
	for _, version := range []string{"5", "9", "10"} {
		t.Run("v"+version, func(t *testing.T) {
			t.Parallel()
			// softflowd cuts long -r paths (t.TempDir's are long): use a short one.
			dir, err := os.MkdirTemp("/tmp", "sfd")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			traffic := filepath.Join(dir, "traffic.pcap")
			trafficStart := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
			wantBytes, wantPkts := writeTraffic(t, traffic, trafficStart)
			port, quiet, stop := catchExports(t)
			// softflowd 1.1.0 silently reads nothing when its control socket path is
			// longer than 12 characters: keep it short.
			ctl := fmt.Sprintf("/tmp/s%02d.ctl", port%100)
			defer os.Remove(ctl)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// softflowd keeps running when the file ends and exports what it
			// still tracks on SIGTERM: read the file, then ask it to stop.
			cmd := exec.CommandContext(ctx, softflowd, "-r", traffic, "-n", fmt.Sprintf("127.0.0.1:%d", port), "-v", version, "-D",
				"-p", filepath.Join(dir, "pid"), "-c", ctl)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			deadline := time.Now().Add(3 * time.Second)
			for !quiet(300*time.Millisecond) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			dgs := stop()
			if len(dgs) == 0 {
				t.Fatalf("softflowd sent nothing\n%s", out.String())
			}
			recs := decodeCaught(t, dgs, false)
			if len(recs) == 0 {
				t.Logf("datagram: % x", dgs[0].b)
			}
			var bytes, pkts uint64
			for _, r := range recs {
				bytes += r.Bytes
				pkts += r.Packets
			}
			if len(recs) != len(trafficFlows) || bytes != wantBytes || pkts != wantPkts {
				t.Errorf("decoded %d records, %d bytes, %d packets; the capture holds %d flows, %d bytes, %d packets",
					len(recs), bytes, pkts, len(trafficFlows), wantBytes, wantPkts)
			}
			// softflowd times the capture's packets against its own boot, days
			// later: the uptimes wrap, and (IPFIX) its boot time is a few ms
			// after the whole-second export time. The records still land on
			// the capture's day, not 38 days in the future.
			for _, r := range recs {
				if r.Start < trafficStart.Add(-time.Minute).UnixMilli() || r.End > trafficStart.Add(time.Hour).UnixMilli() || r.End < r.Start {
					t.Errorf("record %s:%d → %s:%d at %s – %s, the capture starts %s", r.Src, r.SrcPort, r.Dst, r.DstPort,
						time.UnixMilli(r.Start).UTC(), time.UnixMilli(r.End).UTC(), trafficStart)
				}
			}
			exports := filepath.Join(dir, "exports.pcap")
			writeExports(t, exports, port, dgs)
			if k := os.Getenv("KEEP_EXPORTS"); k != "" {
				writeExports(t, k+version+".pcap", port, dgs)
			}
			n, sums := tsharkTotals(t, exports, port, "cflow", "cflow.octets", "cflow.packets")
			if n != len(recs) || sums[0] != bytes || sums[1] != pkts {
				t.Errorf("tshark reads %d records, %d bytes, %d packets; we decoded %d, %d, %d", n, sums[0], sums[1], len(recs), bytes, pkts)
			}
			t.Logf("softflowd v%s: %d datagrams, %d records, %d bytes, %d packets (tshark agrees: %d records)", version, len(dgs), len(recs), bytes, pkts, n)
		})
	}
}
