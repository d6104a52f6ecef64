package shard

import (
	"fmt"
	"net/netip"
	"testing"
)

// BenchmarkOwns is the per-record cost the shard adds to the pipeline, with
// 50 units and 200 prefixes configured and half the records not owned.
func BenchmarkOwns(b *testing.B) {
	var c Configuration
	for i := range 50 {
		c.Units = append(c.Units, fmt.Sprintf("school-%03d", i))
	}
	for i := range 200 {
		c.Prefixes = append(c.Prefixes, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 17))
	}
	s := New(c)
	hosts := make([]netip.Addr, 1024)
	units := make([]string, len(hosts))
	for i := range hosts {
		hosts[i] = netip.AddrFrom4([4]byte{10, byte(i % 256), byte(i * 7), byte(i)})
		units[i] = fmt.Sprintf("school-%03d", 25+i%50) // half of them owned by unit
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Owns(hosts[i&1023], units[i&1023])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mrecords/s")
}
