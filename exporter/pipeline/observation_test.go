package pipeline

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/score"
)

// observe is Batch.put of r with led and set, into a one-slot batch whose
// slot starts as *o and whose hit storage as *hit; both are copied back
// (o.Intel then points at *hit): the enrichment as Batched and Process do
// it, into the caller's slot.
func (p *Pipeline) observe(led *ledger.Ledger, set *intel.Set, r *flow.Record, o *score.Observation, hit *score.IntelHit) bool {
	b := &Batch{p: p, led: led, set: set, obs: []score.Observation{*o}, hits: []score.IntelHit{*hit}}
	ok := b.put(r)
	*o, *hit = b.obs[0], b.hits[0]
	if o.Intel == &b.hits[0] {
		o.Intel = hit
	}
	return ok
}

// oldObservation is put's enrichment as it was before ledger.Lookup and
// intel.Set.Remote: two Classify calls, the asset table for Research,
// Allowed then MatchHost.
func oldObservation(led *ledger.Ledger, set *intel.Set, r *flow.Record, o *score.Observation) bool {
	srcUnit, srcIn := led.Classify(r.Src)
	dstUnit, dstIn := led.Classify(r.Dst)
	var unit *ledger.Unit
	switch {
	case srcIn && (!dstIn || r.SrcPort >= r.DstPort):
		o.Host, o.Remote, o.HostPort, o.RemotePort, o.Outbound = r.Src, r.Dst, r.SrcPort, r.DstPort, true
		unit = srcUnit
	case dstIn:
		o.Host, o.Remote, o.HostPort, o.RemotePort = r.Dst, r.Src, r.DstPort, r.SrcPort
		unit = dstUnit
	default:
		return false
	}
	o.Unit = Unassigned
	if unit != nil {
		o.Unit = unit.ID
	}
	if a := led.Asset(o.Host); a != nil {
		o.Research = a.Research
	}
	o.Proto, o.TCPFlags = r.Proto, r.TCPFlags
	o.Start, o.End = r.Start, r.End
	o.Packets, o.Bytes, o.SamplingRate = r.Packets, r.Bytes, r.SamplingRate
	if set != nil {
		if set.Allowed(o.Remote, o.RemotePort) {
			o.Allowlisted = true
		} else if e := set.MatchHost(o.Host, o.Remote, o.RemotePort); e != nil {
			o.Intel = &score.IntelHit{Pool: e.Pool, Coin: e.Coin, Shared: e.Shared}
		}
	}
	return true
}

// TestObservationIsOld: the enrichment gives what the old look-ups gave,
// record for record, over research assets (IPv4 and IPv6), nested units,
// extra ranges, pools, allowlisted endpoints, IPv4-mapped addresses.
func TestObservationIsOld(t *testing.T) {
	led, err := ledger.Build([]ledger.File{{Name: "u.yaml", Data: []byte(`units:
  - {id: edu, name: 教育局, sector: government, cidrs: [10.0.0.0/8, 2001:db8::/32]}
  - {id: school, name: 一中, sector: school, parent: edu, cidrs: [10.20.0.0/16, 10.21.3.0/24, 2001:db8:20::/48]}
  - {id: lab, name: 实验室, sector: school, parent: school, cidrs: [10.20.5.128/25]}
`)}, {Name: "a.csv", Data: []byte("ip,unit,name,kind,location,department,owner,research\n" +
		"10.20.5.130,lab,GPU,server,,,,是\n10.20.5.131,lab,PC,pc,,,,否\n10.20.1.1,school,HPC,server,,,,是\n2001:db8:20::7,school,v6,server,,,,是\n")}},
		[]netip.Prefix{netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("10.99.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	pools, err := intel.Parse("pools.txt", []byte("198.51.100.7:3333,XMR\n198.51.100.64/26\n203.0.113.5\n[2001:db8:beef::1]:4444\n"))
	if err != nil {
		t.Fatal(err)
	}
	allow, err := intel.Parse("allow.txt", []byte("198.51.100.70:443\n192.0.2.0/24\n"))
	if err != nil {
		t.Fatal(err)
	}
	set := intel.NewSet([]*intel.List{pools}, []*intel.List{allow}, nil)
	p := newTestPipeline(t)
	internal := []string{"10.20.5.130", "10.20.5.131", "10.20.1.1", "10.21.3.9", "10.99.1.1", "172.16.0.1", "10.5.5.5", "2001:db8:20::7", "2001:db8:20::8", "2001:db8:1::1"}
	remote := []string{"198.51.100.7", "198.51.100.65", "198.51.100.70", "203.0.113.5", "203.0.113.6", "192.0.2.9", "2001:db8:beef::1", "8.8.8.8"}
	pick := func(rng *rand.Rand) netip.Addr {
		var a netip.Addr
		switch rng.IntN(3) {
		case 0:
			a = netip.MustParseAddr(internal[rng.IntN(len(internal))])
		case 1:
			a = netip.MustParseAddr(remote[rng.IntN(len(remote))])
		default:
			a = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		}
		if a.Is4() && rng.IntN(4) == 0 {
			a = netip.AddrFrom16(a.As16()) // IPv4-mapped, as some exporters send
		}
		return a
	}
	ports := []uint16{3333, 443, 4444, 50000, 80}
	rng := rand.New(rand.NewPCG(11, 12))
	research, hits, allowed := 0, 0, 0
	for i := range 50000 {
		r := &flow.Record{Src: pick(rng), Dst: pick(rng), SrcPort: ports[rng.IntN(len(ports))], DstPort: ports[rng.IntN(len(ports))],
			Proto: 6, TCPFlags: 0x18, Packets: 3, Bytes: 300, SamplingRate: 1, Start: int64(i), End: int64(i) + 5}
		var got, want score.Observation
		okGot, okWant := p.observe(led, set, r, &got, new(score.IntelHit)), oldObservation(led, set, r, &want)
		if okGot != okWant || !reflect.DeepEqual(got, want) {
			t.Fatalf("record %+v:\n got %v %+v\nwant %v %+v", r, okGot, got, okWant, want)
		}
		if got.Research {
			research++
		}
		if got.Intel != nil {
			hits++
		}
		if got.Allowlisted {
			allowed++
		}
	}
	if research == 0 || hits == 0 || allowed == 0 {
		t.Fatalf("test premise: %d research hosts, %d pool hits, %d allowlisted among the records", research, hits, allowed)
	}
}

// TestObservationWritesAll: Batch.put writes every field of the
// observation it returns true for (a Batch reuses its slots without
// clearing them): into a slot full of another record's values it gives what
// it gives into a zero one. A field added to score.Observation and not
// written by put fails here.
func TestObservationWritesAll(t *testing.T) {
	p := newTestPipeline(t)
	led, set := p.ledger.Load(), p.intelSet()
	var garbage score.Observation
	v := reflect.ValueOf(&garbage).Elem()
	for i := range v.NumField() { // every field non-zero
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			f.SetUint(7)
		case reflect.Int64:
			f.SetInt(7)
		case reflect.String:
			f.SetString("stale")
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Struct:
			if a, ok := f.Addr().Interface().(*netip.Addr); ok {
				*a = netip.MustParseAddr("2001:db8::7")
				continue
			}
			t.Fatalf("field %s: set it here", v.Type().Field(i).Name)
		default:
			t.Fatalf("field %s of kind %s: set it here", v.Type().Field(i).Name, f.Kind())
		}
	}
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("test premise: field %s left zero", v.Type().Field(i).Name)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	hosts := []string{"10.20.3.21", "10.20.9.9", "172.16.0.1", "::ffff:10.20.1.1", "198.51.100.7", "8.8.8.8", "2001:db8::1"}
	scored := 0
	for i := range 2000 {
		r := &flow.Record{Src: netip.MustParseAddr(hosts[rng.IntN(len(hosts))]), Dst: netip.MustParseAddr(hosts[rng.IntN(len(hosts))]),
			SrcPort: uint16(rng.IntN(2) * 3333), DstPort: uint16(rng.IntN(2) * 40000), Proto: uint8(rng.IntN(3)), TCPFlags: uint8(rng.IntN(2)),
			Packets: uint64(rng.IntN(3)), Bytes: uint64(rng.IntN(3)), SamplingRate: uint32(rng.IntN(2)), Start: int64(i % 2), End: int64(i % 3)}
		var fresh score.Observation
		reused := garbage
		// The hit's storage too is reused (a Batch's slot): every field written.
		usedHit := score.IntelHit{Pool: "old", Coin: "old", Shared: true, Confirmed: "old"}
		okFresh, okReused := p.observe(led, set, r, &fresh, new(score.IntelHit)), p.observe(led, set, r, &reused, &usedHit)
		if okFresh != okReused {
			t.Fatalf("record %+v: %v into a zero slot, %v into a used one", r, okFresh, okReused)
		}
		if !okFresh {
			if !reflect.DeepEqual(reused, garbage) {
				t.Fatalf("record %+v not scored, yet the slot was written: %+v", r, reused)
			}
			continue
		}
		scored++
		if !reflect.DeepEqual(fresh, reused) {
			t.Fatalf("record %+v:\n zero slot %+v\n used slot %+v", r, fresh, reused)
		}
	}
	if scored < 500 {
		t.Fatalf("test premise: %d of 2000 records scored", scored)
	}
}
