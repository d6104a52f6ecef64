package probe

import (
	"net/netip"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/intel"
)

type submitted []Target

func (s *submitted) SubmitTarget(t Target) bool { *s = append(*s, t); return true }

// TestFeed: what the engine's callbacks hand the prober. An unknown
// endpoint is probed bare as soon as its session looks like a pool's; a
// listed pool domain's shared address with the domain as SNI, and its
// suspect host is noted so that the confirmation flags that host; a refuted
// endpoint answers Refuted and is not probed again; a listed one is not probed.
func TestFeed(t *testing.T) {
	now := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	st := intel.NewStore(intel.Options{Now: func() time.Time { return now }})
	pools, err := intel.Parse("p.txt", []byte("pool.example.org,XMR\n198.51.100.7:3333,XMR\n"))
	if err != nil {
		t.Fatal(err)
	}
	cdn := netip.MustParseAddr("203.0.113.200")
	st.Set(intel.NewSet([]*intel.List{pools}, nil, map[string][]netip.Addr{"pool.example.org": {cdn}}))
	var got submitted
	f := &Feed{Store: st, Prober: &got, NoteFor: time.Hour, Now: func() time.Time { return now }}

	unknown := netip.MustParseAddrPort("198.51.100.20:8080")
	if f.Refuted(unknown) {
		t.Error("an unknown endpoint answers refuted")
	}
	shared := netip.AddrPortFrom(cdn, 443)
	host := netip.MustParseAddr("10.0.0.5")
	f.Suspect(host, shared)
	f.Suspect(host, netip.MustParseAddrPort("198.51.100.7:3333")) // listed: nothing to ask
	want := []Target{{Endpoint: unknown}, {Endpoint: shared, Name: "pool.example.org"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("submitted %v, want %v", got, want)
	}
	st.Confirm(shared, intel.Evidence{At: now, Protocol: "stratum", TLS: true, Name: "pool.example.org", Until: now.Add(time.Hour)})
	if e := st.Current().MatchHost(host, cdn, 443); e == nil || e.Shared {
		t.Errorf("the suspect's contact after the SNI confirmation: %+v", e)
	}
	if e := st.Current().MatchHost(netip.MustParseAddr("10.0.0.6"), cdn, 443); e == nil || !e.Shared {
		t.Errorf("another host's contact with the CDN address: %+v", e)
	}
	st.Refute(unknown, intel.Evidence{At: now, Until: now.Add(time.Hour)})
	got = nil
	if !f.Refuted(unknown) {
		t.Error("a refuted endpoint does not answer refuted")
	}
	f.Suspect(host, shared) // decided: not asked again
	if len(got) != 0 {
		t.Errorf("decided endpoints submitted again: %v", got)
	}
}
