package probe

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testCert is a self-signed certificate for 127.0.0.1, as pools serve.
type testCert struct {
	tls               tls.Certificate
	certPEM, keyPEM   []byte
	certFile, keyFile string
}

func newCert(t testing.TB) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := &testCert{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	}
	if c.tls, err = tls.X509KeyPair(c.certPEM, c.keyPEM); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c.certFile, c.keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(c.certFile, c.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, c.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// server is a loopback TCP server run by a test.
type server struct {
	ln      net.Listener
	accepts atomic.Int64
	open    atomic.Int64 // connections open now
	maxOpen atomic.Int64 // most open at once
	wg      sync.WaitGroup
}

func (s *server) ep() netip.AddrPort { return s.ln.Addr().(*net.TCPAddr).AddrPort() }

// serve accepts on 127.0.0.1 (over TLS with cert) and runs handle per
// connection until the test ends.
func serve(t testing.TB, cert *testCert, handle func(net.Conn)) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cert != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert.tls}})
	}
	s := &server{ln: ln}
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepts.Add(1)
			n := s.open.Add(1)
			for {
				m := s.maxOpen.Load()
				if n <= m || s.maxOpen.CompareAndSwap(m, n) {
					break
				}
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			s.wg.Go(func() {
				defer func() {
					c.Close()
					s.open.Add(-1)
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
				}()
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// topID is the top-level id of the recorded lines (they all start with it).
var topID = regexp.MustCompile(`^\{\s*"id"\s*:\s*("[^"]*"|-?\d+|null)`)

// poolHandler answers as the pool of a recorded session did: to a request
// whose method the miner sent in the capture, the pool's lines that
// followed it there (its reply carrying the asker's id, pushes as they
// were). A method the capture never shows gets no answer: what that pool
// would have said is not recorded, and silence is the case a prober must
// get past.
func poolHandler(script []sessionLine) func(net.Conn) {
	type step struct {
		reqID   string
		replies [][]byte
	}
	steps := map[string]step{}
	for i, l := range script {
		if l.pool {
			continue
		}
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if json.Unmarshal(l.data, &m) != nil || m.Method == "" {
			continue
		}
		if _, seen := steps[m.Method]; seen {
			continue // the first exchange of each method
		}
		st := step{reqID: string(m.ID)}
		for _, r := range script[i+1:] {
			if !r.pool {
				break
			}
			st.replies = append(st.replies, r.data)
		}
		steps[m.Method] = st
	}
	return func(c net.Conn) {
		rd := bufio.NewReader(c)
		for {
			_ = c.SetReadDeadline(time.Now().Add(time.Minute))
			line, err := rd.ReadBytes('\n')
			if err != nil {
				return
			}
			var m struct {
				ID     json.RawMessage `json:"id"`
				Method string          `json:"method"`
			}
			if json.Unmarshal(line, &m) != nil {
				continue
			}
			st, ok := steps[m.Method]
			if !ok {
				continue
			}
			for _, r := range st.replies {
				if sm := topID.FindSubmatchIndex(r); sm != nil && string(r[sm[2]:sm[3]]) == st.reqID {
					r = append(append(append([]byte{}, r[:sm[2]]...), m.ID...), r[sm[3]:]...)
				}
				if _, err := c.Write(append(r, '\n')); err != nil {
					return
				}
			}
		}
	}
}

// echoHandler sends back whatever comes.
func echoHandler(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// silentHandler reads and never answers (until the prober hangs up).
func silentHandler(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}
