package probe

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/ingestbench"
)

func TestProbe(t *testing.T) {
	tr := ingestbench.Build(flow.NetFlowV9, ingestbench.Options{})
	t.Logf("datagrams %d records %d bytes %d first %d", len(tr.Datagrams), tr.TotalRecs, tr.TotalBytes, tr.Records[0])
	s, err := ingestbench.Send(context.Background(), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 42055}, tr, 50000, 2*time.Second)
	t.Logf("%+v %v", s, err)
}
