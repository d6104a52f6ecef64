package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/intel"
)

// certFor is a self-signed certificate for one DNS name.
func certFor(t testing.TB, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serveCDN is a shared TLS address as a CDN runs one: it routes each
// connection by its SNI. The pool's name (with a certificate for it) gets
// the pool side of a real capture replayed; any other name, or none, gets
// the CDN's own HTTP answer with its own certificate.
func serveCDN(t testing.TB, poolName string, pool func(net.Conn)) *server {
	t.Helper()
	poolCert, cdnCert := certFor(t, poolName), certFor(t, "cdn.example.net")
	return serve(t, nil, func(c net.Conn) {
		tc := tls.Server(c, &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if h.ServerName == poolName {
				return &poolCert, nil
			}
			return &cdnCert, nil
		}})
		_ = tc.SetDeadline(time.Now().Add(time.Minute))
		if tc.Handshake() != nil {
			return
		}
		if tc.ConnectionState().ServerName == poolName {
			pool(tc)
			return
		}
		buf := make([]byte, 4096)
		if _, err := tc.Read(buf); err != nil {
			return
		}
		_, _ = tc.Write([]byte("HTTP/1.1 421 Misdirected Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
	})
}

// TestSNIConfirmsOnlyTheListedName: behind one shared TLS address, the
// listed domain's pool (the pool side of each real capture, with a
// certificate for the name) is confirmed when probed with that name as SNI,
// over TLS only, with the name in the evidence; the same address probed
// bare or with another name is refuted (the CDN's HTTP answer). In the
// intel the confirmation holds for the name at the address only.
func TestSNIConfirmsOnlyTheListedName(t *testing.T) {
	const name = "xmr-tls.pool.example"
	for _, s := range sessions {
		script := loadSession(t, s.file)
		t.Run(s.file, func(t *testing.T) {
			t.Parallel()
			srv := serveCDN(t, name, poolHandler(script))
			var mu sync.Mutex
			var got []Result
			p := New(testConfig(), Dependencies{OnResult: func(r Result) { mu.Lock(); got = append(got, r); mu.Unlock() }})
			r, err := p.ProbeTarget(context.Background(), Target{Endpoint: srv.ep(), Name: name})
			if err != nil {
				t.Fatal(err)
			}
			if r.Outcome != Confirmed || !r.TLS || r.Name != name || r.Protocol != protocolOf(s.file) {
				t.Fatalf("with SNI %s: %s protocol %q tls %v name %q: %s (tries %+v)", name, r.Outcome, r.Protocol, r.TLS, r.Name, r.Reason, r.Tries)
			}
			if !sameAnswer(r.Excerpt, script) {
				t.Errorf("evidence %q is not the pool's recorded answer", r.Excerpt)
			}
			for _, try := range r.Tries {
				if !try.TLS {
					t.Errorf("a probe with a name went over plain TCP: %+v", try)
				}
			}
			for _, other := range []string{"", "www.other.example"} {
				r, err := p.ProbeTarget(context.Background(), Target{Endpoint: srv.ep(), Name: other})
				if err != nil {
					t.Fatal(err)
				}
				if r.Outcome == Confirmed {
					t.Errorf("the shared address with SNI %q was confirmed: %s", other, r.Excerpt)
				}
				if !strings.Contains(r.Reason, "HTTP answer") {
					t.Errorf("SNI %q: %s %s, want the CDN's HTTP answer", other, r.Outcome, r.Reason)
				}
			}
			// The outcomes into intel: the name is confirmed at the address,
			// the bare address is not (and, named by no list here, is refuted).
			st := intel.NewStore(intel.Options{})
			mu.Lock()
			for _, r := range got {
				ToIntel(st)(r)
			}
			mu.Unlock()
			if c := st.Current().ConfirmedName(srv.ep(), name); c == nil || c.Probe.Name != name || !c.Probe.TLS {
				t.Errorf("intel holds %+v for %s at %v", c, name, srv.ep())
			}
			if st.Current().Confirmed(srv.ep()) != nil || st.Current().ConfirmedName(srv.ep(), "www.other.example") != nil {
				t.Error("the bare address or another name was confirmed")
			}
			if e := st.Current().Match(srv.ep().Addr(), srv.ep().Port()); e != nil {
				t.Errorf("Match of the bare address gives %+v", e)
			}
		})
	}
}
