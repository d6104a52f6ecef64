package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/config"
	"github.com/minewatch/minewatch/exporter/encode"
	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/exporter/proc"
	"github.com/minewatch/minewatch/exporter/server"
)

// TestStopScoresEveryRecordRead: the server's wiring of both reader paths
// (listen.split_scoring on and off). A burst of NetFlow v9 records, each of
// its own internal host, is sent and the exporter stopped as soon as the
// reader has decoded some; once Wait returns, every record decoded is in the
// detection state that the last snapshot and the metrics show. Each run
// sends from its own loopback address, so the decoder's record counter of
// that source counts this run's records. (That a Handoff's queue is drained
// at the stop, whatever the timing, is pipeline's TestHandoffDrainsOnClose;
// here the scorer may have caught up by itself.)
func TestStopScoresEveryRecordRead(t *testing.T) {
	for i, split := range []bool{true, false} {
		t.Run(fmt.Sprintf("split_scoring_%v", split), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "ledger.yaml"), []byte(ledgerYAML), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(dir, "state"), 0o755); err != nil {
				t.Fatal(err)
			}
			httpPort, err := proc.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			flowPort, err := proc.FreeUDPPort()
			if err != nil {
				t.Fatal(err)
			}
			cfgText := fmt.Sprintf(`listen: {netflow: "127.0.0.1:%d", sflow: "", http: "127.0.0.1:%d", readers: 1, split_scoring: %v}
ledger:
  files: [ledger.yaml]
snapshot:
  file: state/mw.snap
`, flowPort, httpPort, split)
			if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfgText), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(filepath.Join(dir, "config.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Listen.SplitScoring != split {
				t.Fatalf("listen.split_scoring read as %v", cfg.Listen.SplitScoring)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			srv, err := server.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			from := netip.AddrFrom4([4]byte{127, 0, 0, byte(20 + i)})
			conn, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(from, 0)), net.UDPAddrFromAddrPort(srv.Addrs.NetFlow))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()

			counter := metrics.GetOrCreateCounter(fmt.Sprintf(`%s{source=%q,protocol=%q}`, names.FlowRecords, from, flow.NetFlowV9))
			before := counter.Get() // (-count: the counter is the process's)
			now := time.Now()
			const n = 24 * 600 // 600 datagrams of 24 records, 14,400 hosts of 10.20.0.0/16
			recs := make([]flow.Record, n)
			for j := range recs {
				recs[j] = flow.Record{Src: netip.AddrFrom4([4]byte{10, 20, byte(j >> 8), byte(j)}), Dst: netip.MustParseAddr("192.0.2.9"),
					SrcPort: 40000, DstPort: 443, Proto: 6, Packets: 2, Bytes: 200, SamplingRate: 1,
					Start: now.UnixMilli() - 2000, End: now.UnixMilli() - 1000}
			}
			sent := 0
			encode.NewExporter(flow.NetFlowV9, encode.Options{Boot: now.Add(-time.Hour)}).Encode(now, recs, func(d []byte) {
				if _, err := conn.Write(d); err != nil {
					t.Fatal(err)
				}
				sent++
			})
			// Stop as soon as the reader has decoded something: records may
			// still be in the socket, the reader or the scorer's queue.
			for deadline := time.Now().Add(time.Minute); counter.Get() == before; time.Sleep(100 * time.Microsecond) {
				if time.Now().After(deadline) {
					t.Fatal("nothing decoded after a minute")
				}
			}
			cancel()
			if err := srv.Wait(); err != nil {
				t.Fatal(err)
			}
			decoded := counter.Get() - before
			hosts := srv.Pipeline.Engine().Stats().Hosts
			t.Logf("%d datagrams sent, %d records decoded before the stop, %d hosts scored", sent, decoded, hosts)
			if uint64(hosts) != decoded {
				t.Fatalf("%d records decoded, but %d of their hosts are in the state", decoded, hosts)
			}
		})
	}
}
