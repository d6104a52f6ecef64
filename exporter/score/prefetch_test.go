package score

import (
	"net/netip"
	"testing"
)

// TestProbe: the host ObserveBatch prefetches (hostTable.probe) is the one
// get finds, or one whose tag is the same and sits before it in the index
// (then the batch looks again with get); when probe finds none, get finds
// none either. 3,000 hosts in one table, looked up present and absent:
// the tag collisions must occur for the test to mean anything.
func TestProbe(t *testing.T) {
	var tab hostTable
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := 0; i < 3000; i++ {
		ip := addr(i)
		k, is4 := keyOf(ip), ip.Is4()
		tab.insert(k, is4, hashAddr(k, is4))
	}
	other := 0 // probes that found another address with the same tag
	for i := 0; i < 6000; i++ {
		ip := addr(i) // the first 3,000 tracked, the rest not
		k, is4 := keyOf(ip), ip.Is4()
		hash := hashAddr(k, is4)
		h, p := tab.get(k, is4, hash), tab.probe(hash)
		switch {
		case p == nil:
			if h != nil {
				t.Fatalf("%v: probe finds nothing, get finds it", ip)
			}
		case p == h:
		case tagOf(hashAddr(p.key, p.is4)) != tagOf(hash) || p.key == k && p.is4 == is4:
			t.Fatalf("%v: probe found %v, not the host and not another of its tag", ip, p.key.addr(p.is4))
		default:
			other++
		}
		if (i < 3000) != (h != nil) {
			t.Fatalf("%v: get %v", ip, h)
		}
	}
	if other == 0 {
		t.Fatal("test premise: no probe met another address of the same tag")
	}
}
