// Package flow holds the flow record that every part of the exporter speaks,
// and the decoders that turn NetFlow v5/v9, IPFIX and sFlow v5 packets into it.
package flow

import "net/netip"

// Protocol is the export protocol a record arrived in.
type Protocol uint8

const (
	NetFlowV5 Protocol = iota + 1
	NetFlowV9
	IPFIX
	SFlowV5
)

func (p Protocol) String() string {
	switch p {
	case NetFlowV5:
		return "netflow_v5"
	case NetFlowV9:
		return "netflow_v9"
	case IPFIX:
		return "ipfix"
	case SFlowV5:
		return "sflow_v5"
	}
	return "unknown"
}

// Record is one unidirectional flow as the exporting device saw it.
// Packets and Bytes are already scaled by SamplingRate, so a 1:N sampled
// record estimates the real traffic. Times are Unix milliseconds on the
// exporter's clock (for sFlow, the time the datagram was received or captured).
type Record struct {
	Start, End       int64
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8 // IP protocol number: 6 TCP, 17 UDP, ...
	TCPFlags         uint8 // OR of the TCP flags seen in the flow
	Packets, Bytes   uint64
	SamplingRate     uint32 // 1 when unsampled
	Exporter         netip.Addr
	Protocol         Protocol
}
