package intel

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// countingResolver records how many lookups are in flight at once; each
// lookup lasts a moment, so that unbounded lookups would overlap and show.
type countingResolver struct {
	mu            sync.Mutex
	inFlight, max int
}

func (r *countingResolver) LookupNetIP(ctx context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	r.inFlight++
	r.max = max(r.max, r.inFlight)
	r.mu.Unlock()
	defer func() { r.mu.Lock(); r.inFlight--; r.mu.Unlock() }()
	time.Sleep(time.Millisecond)
	if host == "sink.example" {
		return []netip.Addr{netip.MustParseAddr("0.0.0.0")}, nil
	}
	return []netip.Addr{netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("::ffff:203.0.113.9")}, nil
}

func TestLookupAllBoundsConcurrency(t *testing.T) {
	var domains []string
	for i := range 200 {
		domains = append(domains, fmt.Sprintf("p%d.example", i))
	}
	domains = append(domains, "sink.example")
	r := &countingResolver{}
	res := LookupAll(context.Background(), r, domains, 3, 0)
	if r.max > 3 || r.max < 1 {
		t.Errorf("%d lookups in flight at once, bound 3", r.max)
	}
	if len(res) != len(domains) || res[0].Domain != "p0.example" || len(res[0].Addrs) != 1 || res[0].Addrs[0] != netip.MustParseAddr("203.0.113.9") {
		t.Errorf("first result %+v (want one unmapped address)", res[0])
	}
	if last := res[len(res)-1]; last.Err == nil || len(last.Addrs) != 0 {
		t.Errorf("a sinkhole-only answer: %+v", last)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, r := range LookupAll(ctx, &countingResolver{}, domains, 3, 0) {
		if r.Domain != "" {
			t.Fatalf("looked up %s after the context ended", r.Domain)
		}
	}
}
