package intel

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer answers A queries from a table on a loopback UDP port, so the
// resolution path runs through Go's real resolver and DNS wire format.
type dnsServer struct {
	conn    net.PacketConn
	mu      sync.Mutex
	answers map[string][4]byte // "name." → address; missing names get NXDOMAIN
}

func startDNS(t *testing.T, answers map[string][4]byte) *dnsServer {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{conn: conn, answers: answers}
	done := make(chan struct{})
	go s.serve(done)
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

func (s *dnsServer) serve(done chan struct{}) {
	defer close(done)
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		resp := dnsmessage.Message{
			Header:    dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RCode: dnsmessage.RCodeSuccess},
			Questions: []dnsmessage.Question{q},
		}
		s.mu.Lock()
		addr, ok := s.answers[strings.ToLower(q.Name.String())]
		s.mu.Unlock()
		switch {
		case !ok:
			resp.Header.RCode = dnsmessage.RCodeNameError
		case q.Type == dnsmessage.TypeA:
			resp.Answers = []dnsmessage.Resource{{
				Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60},
				Body:   &dnsmessage.AResource{A: addr},
			}}
		}
		out, err := resp.Pack()
		if err == nil {
			s.conn.WriteTo(out, from)
		}
	}
}

func TestDNSResolverAgainstLoopbackServer(t *testing.T) {
	srv := startDNS(t, map[string][4]byte{
		"pool.example.org.":    {203, 0, 113, 200},
		"blocked.example.org.": {0, 0, 0, 0}, // what a filtering DNS answers
	})
	dir := t.TempDir()
	pools := filepath.Join(dir, "pools.txt")
	writeFile(t, pools, "pool.example.org,XMR\nblocked.example.org,XMR\ngone.example.org,XMR\n")
	s := NewStore(Options{Lists: []string{pools}, Resolver: DNSResolver(srv.conn.LocalAddr().String())})
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	err := s.Resolve(context.Background())
	if err == nil || !strings.Contains(err.Error(), "2 of 3 pool domains did not resolve") ||
		!strings.Contains(err.Error(), "blocked.example.org (answered only [0.0.0.0]") || !strings.Contains(err.Error(), "gone.example.org") {
		t.Errorf("resolve error = %v", err)
	}
	e := s.Current().Match(netip.MustParseAddr("203.0.113.200"), 3333)
	if e == nil || e.Pool != "pool.example.org" || !e.Shared {
		t.Errorf("match via real DNS: %+v", e)
	}
	if s.Current().Match(netip.MustParseAddr("0.0.0.0"), 3333) != nil {
		t.Error("a sinkhole answer became a pool address")
	}
}
