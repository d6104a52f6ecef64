package flow

import (
	"bytes"
	"encoding/binary"
)

// Small encoders of export packets for benchmarks and tests. Each record i
// is a TCP flow 10.0.x.y:40000+i -> 203.0.113.(i%250):3333 of 10+i packets and
// 1000+i bytes.

const benchRecords = 24

func put(b *bytes.Buffer, vs ...any) {
	for _, v := range vs {
		binary.Write(b, binary.BigEndian, v)
	}
}

// v9/IPFIX template fields: IE, length.
var benchFields = [][2]uint16{
	{ieSrcIPv4, 4}, {ieDstIPv4, 4}, {ieSrcPort, 2}, {ieDstPort, 2}, {ieProtocol, 1}, {ieTCPFlags, 1},
	{ieOctetDelta, 4}, {iePacketDelta, 4}, {ieFirstSwitched, 4}, {ieLastSwitched, 4},
}

func benchRecord(b *bytes.Buffer, i int) {
	put(b, [4]byte{10, 0, byte(i >> 8), byte(i)}, [4]byte{203, 0, 113, byte(i % 250)}, uint16(40000+i), uint16(3333),
		uint8(6), uint8(0x18), uint32(1000+i), uint32(10+i), uint32(50000), uint32(59000))
}

// encodeV9 returns a template datagram and a data datagram of n records (template id 256).
func encodeV9(n int) (tpl, data []byte) {
	header := func(b *bytes.Buffer, count uint16) {
		put(b, uint16(9), count, uint32(60000), uint32(1700000000), uint32(1), uint32(0))
	}
	var t bytes.Buffer
	header(&t, 1)
	put(&t, uint16(0), uint16(4+4+4*len(benchFields)), uint16(256), uint16(len(benchFields)))
	for _, f := range benchFields {
		put(&t, f[0], f[1])
	}
	var d bytes.Buffer
	header(&d, uint16(n))
	var set bytes.Buffer
	for i := 0; i < n; i++ {
		benchRecord(&set, i)
	}
	put(&d, uint16(256), uint16(4+set.Len()))
	d.Write(set.Bytes())
	return t.Bytes(), d.Bytes()
}

// encodeIPFIX is encodeV9 for IPFIX (absolute millisecond times 152/153 instead of uptime).
func encodeIPFIX(n int) (tpl, data []byte) {
	fields := append([][2]uint16{}, benchFields[:8]...)
	fields = append(fields, [2]uint16{ieStartMillis, 8}, [2]uint16{ieEndMillis, 8})
	msg := func(body []byte) []byte {
		var b bytes.Buffer
		put(&b, uint16(10), uint16(16+len(body)), uint32(1700000000), uint32(1), uint32(0))
		b.Write(body)
		return b.Bytes()
	}
	var t bytes.Buffer
	put(&t, uint16(2), uint16(4+4+4*len(fields)), uint16(256), uint16(len(fields)))
	for _, f := range fields {
		put(&t, f[0], f[1])
	}
	var set bytes.Buffer
	for i := 0; i < n; i++ {
		put(&set, [4]byte{10, 0, byte(i >> 8), byte(i)}, [4]byte{203, 0, 113, byte(i % 250)}, uint16(40000+i), uint16(3333),
			uint8(6), uint8(0x18), uint32(1000+i), uint32(10+i), uint64(1699999990000), uint64(1699999999000))
	}
	var d bytes.Buffer
	put(&d, uint16(256), uint16(4+set.Len()))
	d.Write(set.Bytes())
	return msg(t.Bytes()), msg(d.Bytes())
}

// encodeV5 returns a v5 datagram of n records sampled 1:sampling.
func encodeV5(n int, sampling uint16) []byte {
	var b bytes.Buffer
	put(&b, uint16(5), uint16(n), uint32(60000), uint32(1700000000), uint32(0), uint32(1), uint8(0), uint8(0), sampling)
	for i := 0; i < n; i++ {
		put(&b, [4]byte{10, 0, byte(i >> 8), byte(i)}, [4]byte{203, 0, 113, byte(i % 250)}, [4]byte{}, uint16(1), uint16(2),
			uint32(10+i), uint32(1000+i), uint32(50000), uint32(59000), uint16(40000+i), uint16(3333),
			uint8(0), uint8(0x18), uint8(6), uint8(0), uint16(0), uint16(0), uint8(0), uint8(0), uint16(0))
	}
	return b.Bytes()
}

// sampledFrame is an Ethernet/IPv4/TCP header of a frame of ipLen bytes.
func sampledFrame(i int, ipLen int) []byte {
	var b bytes.Buffer
	put(&b, [6]byte{2, 0, 0, 0, 0, 2}, [6]byte{2, 0, 0, 0, 0, 1}, uint16(0x0800))
	put(&b, uint8(0x45), uint8(0), uint16(ipLen), uint16(0), uint16(0x4000), uint8(64), uint8(6), uint16(0),
		[4]byte{10, 0, byte(i >> 8), byte(i)}, [4]byte{203, 0, 113, byte(i % 250)})
	put(&b, uint16(40000+i), uint16(3333), uint32(1), uint32(1), uint8(5<<4), uint8(0x18), uint16(1000), uint16(0), uint16(0))
	return b.Bytes()
}

// encodeSFlow returns an sFlow v5 datagram with n flow samples of one raw
// Ethernet header each, sampled 1:rate; sample i's frame is 100+i bytes.
func encodeSFlow(n int, rate uint32) []byte {
	var b bytes.Buffer
	put(&b, uint32(5), uint32(1), [4]byte{192, 0, 2, 9}, uint32(0), uint32(1), uint32(60000), uint32(n))
	for i := 0; i < n; i++ {
		hdr := sampledFrame(i, 100+i-14)
		pad := (4 - len(hdr)%4) % 4
		recLen := 16 + len(hdr) + pad
		var s bytes.Buffer
		put(&s, uint32(i), uint32(3), rate, uint32(i)*rate, uint32(0), uint32(1), uint32(2), uint32(1))
		put(&s, uint32(1), uint32(recLen), uint32(sflowHeaderEthernet), uint32(100+i+4), uint32(4), uint32(len(hdr)))
		s.Write(hdr)
		s.Write(make([]byte, pad))
		put(&b, uint32(1), uint32(s.Len()))
		b.Write(s.Bytes())
	}
	return b.Bytes()
}
