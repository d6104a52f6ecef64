package intel

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Resolution is what one domain resolved to. Addrs holds only addresses that
// can be a pool on the Internet (sinkhole answers are dropped); Err says why
// there are none.
type Resolution struct {
	Domain string
	Addrs  []netip.Addr // sorted, unique
	Err    error
}

// LookupAll resolves domains with at most workers lookups at a time, each
// bounded by timeout (5 s if not positive). It is the one resolution path of the Store and of the
// blocklist writer. A domain not reached because ctx ended has an empty
// Domain in its slot.
func LookupAll(ctx context.Context, r Resolver, domains []string, workers int, timeout time.Duration) []Resolution {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	out := make([]Resolution, len(domains))
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range min(max(workers, 1), len(domains)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(domains) || ctx.Err() != nil {
					return
				}
				lctx, cancel := context.WithTimeout(ctx, timeout)
				addrs, err := r.LookupNetIP(lctx, "ip", domains[i])
				cancel()
				out[i] = resolution(domains[i], addrs, err)
			}
		})
	}
	wg.Wait()
	return out
}

func resolution(domain string, got []netip.Addr, err error) Resolution {
	res := Resolution{Domain: domain}
	if err != nil {
		res.Err = err
		return res
	}
	if len(got) == 0 {
		res.Err = errors.New("no addresses")
		return res
	}
	for _, a := range got {
		a = a.Unmap()
		if !sinkhole(a) && !slices.Contains(res.Addrs, a) {
			res.Addrs = append(res.Addrs, a)
		}
	}
	if len(res.Addrs) == 0 {
		// This answer is the blocking, not the pool.
		res.Err = fmt.Errorf("answered only %v: a DNS server that blocks pool domains? set intel.dns_server to an unfiltered resolver", got)
		return res
	}
	slices.SortFunc(res.Addrs, netip.Addr.Compare)
	return res
}
