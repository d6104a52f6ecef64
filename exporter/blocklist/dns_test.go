package blocklist

import (
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// upstream answers A queries from a table on a loopback UDP port: the
// "Internet" the listed domains are resolved against. Missing names get
// NXDOMAIN; AAAA queries an empty answer.
func upstream(t *testing.T, answers map[string][4]byte) string {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
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
			resp := dnsmessage.Message{Header: dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true}, Questions: []dnsmessage.Question{q}}
			a, ok := answers[strings.TrimSuffix(strings.ToLower(q.Name.String()), ".")]
			switch {
			case !ok:
				resp.Header.RCode = dnsmessage.RCodeNameError
			case q.Type == dnsmessage.TypeA:
				resp.Answers = []dnsmessage.Resource{{
					Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60},
					Body:   &dnsmessage.AResource{A: a},
				}}
			}
			if out, err := resp.Pack(); err == nil {
				conn.WriteTo(out, from)
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return conn.LocalAddr().String()
}

// answer is what a DNS server said to one query.
type answer struct {
	RCode dnsmessage.RCode
	A     []string
}

// query asks server (host:port) for name's A records over UDP, retrying a
// few times while the server starts.
func query(t *testing.T, server, name string) answer {
	t.Helper()
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: 4242, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
	}
	msg, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for try := 0; try < 50; try++ {
		conn, err := net.Dial("udp", server)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := conn.Write(msg); err != nil {
			lastErr = err
			conn.Close()
			time.Sleep(100 * time.Millisecond)
			continue
		}
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		conn.Close()
		if err != nil {
			lastErr = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		var resp dnsmessage.Message
		if err := resp.Unpack(buf[:n]); err != nil {
			t.Fatalf("%s: bad answer: %v", name, err)
		}
		out := answer{RCode: resp.Header.RCode}
		for _, r := range resp.Answers {
			if a, ok := r.Body.(*dnsmessage.AResource); ok {
				out.A = append(out.A, net.IP(a.A[:]).String())
			}
		}
		return out
	}
	t.Fatalf("no answer from %s for %s: %v", server, name, lastErr)
	return answer{}
}

// testAnswers is the upstream table for testdata/pools.txt.
var testAnswers = map[string][4]byte{
	"pool.minexmr.example":    {203, 0, 113, 10},
	"xmr.pool-a.example":      {203, 0, 113, 20},
	"eth.pool-a.example":      {203, 0, 113, 20}, // same owner: not shared
	"cf.pool-b.example":       {104, 16, 8, 8},   // Cloudflare
	"pool.pool-c.example":     {203, 0, 113, 30}, // shared with www.pool-f.example
	"www.pool-f.example":      {203, 0, 113, 30},
	"www.shared-site.example": {104, 17, 1, 1},
	"pool-d.example":          {203, 0, 113, 40},
	"api.pool-d.example":      {203, 0, 113, 41},
	"stratum.pool-e.example":  {203, 0, 113, 50},
}
