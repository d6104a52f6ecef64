package score

import (
	"math/rand/v2"
	"testing"
)

// messageLikeDiv is messageLike as it was written with divisions: the
// division-free version must agree with it on every record.
func messageLikeDiv(o *Observation) bool {
	if o.Proto != 6 || o.Packets == 0 {
		return false
	}
	rate := uint64(max(o.SamplingRate, 1))
	pk := max(o.Packets/rate, 1)
	avg := o.Bytes / o.Packets
	if avg < 40 || avg > 600 || o.Bytes/rate > 32<<10 {
		return false
	}
	dur := o.End - o.Start
	if dur >= 2000 {
		return pk*1000/uint64(dur) <= 3
	}
	if pk > 12 {
		return false
	}
	return o.TCPFlags&(tcpSYN|tcpFIN) != tcpSYN|tcpFIN
}

func TestMessageLikeWithoutDivisions(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	edges := []uint64{0, 1, 2, 3, 11, 12, 13, 39, 40, 41, 599, 600, 601, 602, 32 << 10, 32<<10 + 1, 1 << 47, 1 << 48, 1<<48 + 1, 1 << 62, 1<<64 - 1}
	pick := func() uint64 {
		switch rng.IntN(4) {
		case 0:
			return edges[rng.IntN(len(edges))]
		case 1:
			return rng.Uint64()
		default:
			return uint64(rng.IntN(100_000))
		}
	}
	n, yes := 0, 0
	for i := 0; i < 2_000_000; i++ {
		p := pick()
		o := Observation{Proto: 6, Packets: p, TCPFlags: uint8(rng.IntN(256))}
		switch rng.IntN(3) { // bytes near the per-packet bounds, or anything
		case 0:
			o.Bytes = p * uint64(35+rng.IntN(570))
		case 1:
			o.Bytes = p*40 - uint64(rng.IntN(3)) + uint64(rng.IntN(3))
		default:
			o.Bytes = pick()
		}
		if rng.IntN(2) == 0 {
			o.SamplingRate = uint32(pick())
		}
		o.Start = int64(rng.IntN(1 << 20))
		switch rng.IntN(4) {
		case 0:
			o.End = o.Start + int64(rng.IntN(4000))
		case 1:
			o.End = o.Start + int64(pick()>>1)
		default:
			o.End = o.Start + int64(rng.IntN(100_000))
		}
		want := messageLikeDiv(&o)
		if got := messageLike(&o); got != want {
			t.Fatalf("messageLike(%+v) = %v, with divisions %v", o, got, want)
		}
		n++
		if want {
			yes++
		}
	}
	if yes < n/100 {
		t.Fatalf("only %d of %d records message-like: the test does not reach the interesting cases", yes, n)
	}
}
