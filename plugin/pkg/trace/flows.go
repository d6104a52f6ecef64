package trace

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/minewatch/minewatch/exporter/names"
)

// FlowHost is an internal IP the exporter's series tie to a notice.
type FlowHost struct {
	IP, Unit string
	// ByEndpoint: it contacted the notice's remote endpoint in the window
	// (minewatch_pool_contacts_total); else it was flagged as mining then
	// (minewatch_host_mining) without the endpoint being known or seen.
	ByEndpoint bool
	Contacts   float64 // pool contacts in the window (ByEndpoint)
	Query      string  // the query that found it, kept as evidence
}

// Flows finds the internal hosts of units that talked to remote (an IP,
// invalid when unknown; port 0 for any) or were mining in [from, to].
type Flows interface {
	Hosts(ctx context.Context, units []string, remote netip.Addr, port uint16, from, to time.Time) ([]FlowHost, error)
}

// VMFlows reads the series the exporter writes to VictoriaMetrics.
type VMFlows struct{ API v1.API }

func seconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10) + "s"
}

// unitMatcher is a regex of the unit ids (the ids are checked by the ledger;
// QuoteMeta keeps a '.' in one literal).
func unitMatcher(units []string) string {
	q := make([]string, len(units))
	for i, u := range units {
		q[i] = regexp.QuoteMeta(u)
	}
	return strconv.Quote(strings.Join(q, "|"))
}

// poolMatcher matches the pool label of an endpoint: intel lists write a
// pool as an IP or IP:port (exporter/intel), so both are taken.
func poolMatcher(remote netip.Addr, port uint16) string {
	ip := regexp.QuoteMeta(remote.String())
	if remote.Is6() {
		ip = `\[?` + ip + `\]?`
	}
	if port != 0 {
		return strconv.Quote(ip + "|" + ip + ":" + strconv.Itoa(int(port)))
	}
	return strconv.Quote(ip + "(:[0-9]+)?")
}

// Hosts implements Flows: first the hosts with pool contacts to the remote
// endpoint in the window; when there are none (or the endpoint is unknown),
// the hosts flagged as mining in it.
func (f VMFlows) Hosts(ctx context.Context, units []string, remote netip.Addr, port uint16, from, to time.Time) ([]FlowHost, error) {
	if len(units) == 0 {
		return nil, nil
	}
	w := seconds(to.Sub(from))
	var out []FlowHost
	if remote.IsValid() {
		q := fmt.Sprintf(`sum by (ip, unit) (increase(%s{unit=~%s, pool=~%s}[%s])) > 0`, names.PoolContacts, unitMatcher(units), poolMatcher(remote, port), w)
		vec, err := f.query(ctx, q, to)
		if err != nil {
			return nil, err
		}
		for _, s := range vec {
			out = append(out, FlowHost{IP: string(s.Metric["ip"]), Unit: string(s.Metric["unit"]), ByEndpoint: true, Contacts: float64(s.Value), Query: q})
		}
	}
	if len(out) == 0 {
		q := fmt.Sprintf(`max by (ip, unit) (max_over_time(%s{unit=~%s}[%s])) == 1`, names.HostMining, unitMatcher(units), w)
		vec, err := f.query(ctx, q, to)
		if err != nil {
			return nil, err
		}
		for _, s := range vec {
			out = append(out, FlowHost{IP: string(s.Metric["ip"]), Unit: string(s.Metric["unit"]), Query: q})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP < out[j].IP })
	return out, nil
}

func (f VMFlows) query(ctx context.Context, q string, at time.Time) (model.Vector, error) {
	v, _, err := f.API.Query(ctx, q, at)
	if err != nil {
		return nil, fmt.Errorf("VictoriaMetrics %s: %w", q, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("VictoriaMetrics %s: got %s, want a vector", q, v.Type())
	}
	return vec, nil
}
