package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// testConfig probes loopback with short waits, no TLS-first ports and no
// rate limit to speak of.
func testConfig() Configuration {
	cfg := DefaultConfiguration()
	cfg.Enabled, cfg.ProbeLoopback = true, true
	cfg.ConnectTimeout, cfg.AnswerTimeout = 3*time.Second, 2*time.Second
	cfg.TLSPorts = []uint16{}
	cfg.Rate, cfg.Burst = 1000, 1000
	return cfg
}

func protocolOf(file string) string {
	switch {
	case strings.HasPrefix(file, "zcash-stratum"):
		return Stratum
	case strings.HasPrefix(file, "cryptonote"):
		return CryptoNote
	case strings.HasPrefix(file, "ethproxy"):
		return EthProxy
	}
	return ""
}

// sameAnswer: the evidence excerpt is the start of one of the pool's
// recorded lines (the top-level id aside, which follows the asker's).
func sameAnswer(excerpt string, script []sessionLine) bool {
	ex := strings.TrimSuffix(excerpt, "…")
	if loc := topID.FindStringIndex(ex); loc != nil {
		ex = ex[loc[1]:]
	}
	for _, l := range script {
		if !l.pool {
			continue
		}
		s := string(l.data)
		if loc := topID.FindStringIndex(s); loc != nil {
			s = s[loc[1]:]
		}
		if len(ex) > 10 && strings.HasPrefix(s, ex) {
			return true
		}
	}
	return false
}

// TestConfirmsRealPools: servers answering as the pools of the shared
// captures did (Zcash Stratum, CryptoNote login, Ethereum stratum-proxy),
// in plain TCP and behind TLS, on a TLS-first port and not, are confirmed
// with the protocol, the transport and the pool's own answer as evidence.
func TestConfirmsRealPools(t *testing.T) {
	cert := newCert(t)
	for _, s := range sessions {
		script := loadSession(t, s.file)
		for _, mode := range []string{"tcp", "tls", "tls-not-tls-first", "tcp-on-tls-first"} {
			t.Run(s.file+"/"+mode, func(t *testing.T) {
				t.Parallel()
				useTLS := strings.HasPrefix(mode, "tls")
				var c *testCert
				if useTLS {
					c = cert
				}
				srv := serve(t, c, poolHandler(script))
				cfg := testConfig()
				if mode == "tls" || mode == "tcp-on-tls-first" {
					cfg.TLSPorts = []uint16{srv.ep().Port()}
				}
				var got []Result
				var mu sync.Mutex
				p := New(cfg, Dependencies{OnResult: func(r Result) { mu.Lock(); got = append(got, r); mu.Unlock() }})
				r, err := p.Probe(context.Background(), srv.ep())
				if err != nil {
					t.Fatal(err)
				}
				if r.Outcome != Confirmed || r.Protocol != protocolOf(s.file) || r.TLS != useTLS {
					t.Fatalf("outcome %s protocol %q tls %v, want confirmed %q tls %v: %s (tries %+v)",
						r.Outcome, r.Protocol, r.TLS, protocolOf(s.file), useTLS, r.Reason, r.Tries)
				}
				if !sameAnswer(r.Excerpt, script) {
					t.Errorf("evidence %q is not the pool's recorded answer", r.Excerpt)
				}
				if r.At.IsZero() || !r.Until.After(r.At) || r.Reason == "" {
					t.Errorf("evidence lacks when or why: %+v", r)
				}
				ev := r.Evidence()
				if ev.Protocol != r.Protocol || ev.TLS != useTLS || ev.Excerpt != r.Excerpt || !ev.Until.Equal(r.Until) {
					t.Errorf("intel evidence %+v from %+v", ev, r)
				}
				mu.Lock()
				if len(got) != 1 || got[0].Outcome != Confirmed {
					t.Errorf("OnResult got %+v", got)
				}
				mu.Unlock()
				t.Logf("%s: %s via %s (tls %v) after %d tries: %s", s.file, r.Outcome, r.Protocol, r.TLS, len(r.Tries), r.Excerpt)
			})
		}
	}
}

// TestEchoIsNotAPool: an echo service sends our own requests back; it is
// refuted, in plain TCP and behind TLS.
func TestEchoIsNotAPool(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprint("tls=", useTLS), func(t *testing.T) {
			var cert *testCert
			if useTLS {
				cert = newCert(t)
			}
			srv := serve(t, cert, echoHandler)
			p := New(testConfig(), Dependencies{})
			r, err := p.Probe(context.Background(), srv.ep())
			if err != nil {
				t.Fatal(err)
			}
			if r.Outcome != Refuted || !strings.Contains(r.Reason, "echo") {
				t.Fatalf("echo: %s %s", r.Outcome, r.Reason)
			}
		})
	}
}

// TestSilenceIsNotAPool: a server that takes our requests and never
// answers is refuted once every protocol went unanswered on both transports.
func TestSilenceIsNotAPool(t *testing.T) {
	srv := serve(t, nil, silentHandler)
	cfg := testConfig()
	cfg.AnswerTimeout = 300 * time.Millisecond
	cfg.ConnectTimeout = 300 * time.Millisecond // the TLS handshake to a silent server ends here
	r, err := New(cfg, Dependencies{}).Probe(context.Background(), srv.ep())
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != Refuted || !strings.Contains(r.Reason, "no answer") {
		t.Fatalf("silence: %s %s", r.Outcome, r.Reason)
	}
	if len(r.Tries) != 4 { // 3 protocols in TCP, then a TLS handshake that never completes
		t.Errorf("tries = %+v", r.Tries)
	}
}

// TestClosedPortIsAnError: nothing listening is an error, not a refutation
// (kept only ErrorTTL), after one connection attempt.
func TestClosedPortIsAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	cfg := testConfig()
	p := New(cfg, Dependencies{})
	r, err := p.Probe(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != Failed || len(r.Tries) != 1 || r.Until.Sub(r.At) != cfg.ErrorTTL {
		t.Fatalf("closed port: %s %s, %d tries, kept %v", r.Outcome, r.Reason, len(r.Tries), r.Until.Sub(r.At))
	}
}

// TestSourceAddress: probes leave from the configured address.
func TestSourceAddress(t *testing.T) {
	seen := make(chan string, 8)
	srv := serve(t, nil, func(c net.Conn) {
		seen <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		echoHandler(c)
	})
	cfg := testConfig()
	cfg.SourceAddress = netip.MustParseAddr("127.0.0.2") // all of 127/8 is this machine's
	r, err := New(cfg, Dependencies{}).Probe(context.Background(), srv.ep())
	if err != nil || r.Outcome != Refuted {
		t.Fatalf("%v %+v", err, r)
	}
	if got := <-seen; got != "127.0.0.2" {
		t.Errorf("the server saw the probe from %s, want 127.0.0.2", got)
	}
}

// TestRefusedPartWayIsAnError: a server that answers nothing telling and
// then refuses further connections is not refuted (a pool limiting new
// connections looks like that): an error, kept only ErrorTTL.
func TestRefusedPartWayIsAnError(t *testing.T) {
	srv := serve(t, nil, func(c net.Conn) {})
	var once sync.Once
	srvClose := func() { once.Do(func() { srv.ln.Close() }) }
	cfg := testConfig()
	p := New(cfg, Dependencies{})
	next := p.dial
	p.dial = func(ctx context.Context, ep netip.AddrPort) (net.Conn, error) {
		c, err := next(ctx, ep)
		srvClose() // the first connection gets in, the next are refused
		return c, err
	}
	r, err := p.Probe(context.Background(), srv.ep())
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != Failed || !strings.Contains(r.Reason, "refused part-way") || len(r.Tries) != 2 {
		t.Fatalf("%s %s (%d tries)", r.Outcome, r.Reason, len(r.Tries))
	}
}

// fakeClock is the cache's wall clock, moved by the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestCacheExpiry: an outcome is reused until its TTL ends (no connection),
// then the endpoint is probed again; each outcome has its own TTL.
func TestCacheExpiry(t *testing.T) {
	srv := serve(t, nil, echoHandler)
	clock := &fakeClock{t: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)}
	cfg := testConfig()
	cfg.RefutedTTL = time.Hour
	var results int
	var logs bytes.Buffer
	p := New(cfg, Dependencies{Now: clock.Now, OnResult: func(Result) { results++ },
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	r1, err := p.Probe(ctx, srv.ep())
	if err != nil || r1.Outcome != Refuted {
		t.Fatalf("%v %+v", err, r1)
	}
	dials := srv.accepts.Load()
	if dials == 0 || !r1.Until.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("accepts %d, until %v", dials, r1.Until)
	}
	clock.Add(59 * time.Minute)
	r2, err := p.Probe(ctx, srv.ep())
	if err != nil || r2.Outcome != Refuted || !r2.At.Equal(r1.At) || srv.accepts.Load() != dials {
		t.Fatalf("within the TTL: %v %+v, accepts %d → %d", err, r2, dials, srv.accepts.Load())
	}
	if p.Submit(srv.ep()) {
		t.Error("Submit queued an endpoint whose outcome is cached")
	}
	clock.Add(2 * time.Minute)
	r3, err := p.Probe(ctx, srv.ep())
	if err != nil || r3.Outcome != Refuted || !r3.At.After(r1.At) || srv.accepts.Load() <= dials {
		t.Fatalf("after the TTL: %v %+v, accepts %d → %d", err, r3, dials, srv.accepts.Load())
	}
	if results != 2 {
		t.Errorf("OnResult called %d times, want 2 (fresh outcomes only)", results)
	}
	// Logged once per endpoint and outcome, not on each re-probe.
	if n := strings.Count(logs.String(), "endpoint="+srv.ep().String()); n != 1 {
		t.Errorf("%d log lines for two probes with the same outcome:\n%s", n, logs.String())
	}
}

// TestCacheIsBounded: past MaxCache the expired outcomes go, else the oldest.
func TestCacheIsBounded(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)}
	cfg := testConfig()
	cfg.MaxCache = 3
	p := New(cfg, Dependencies{Now: clock.Now})
	for i := range 5 {
		clock.Add(time.Second)
		p.record(Result{Endpoint: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), uint16(1000+i)),
			Outcome: Refuted, At: clock.Now(), Until: clock.Now().Add(time.Hour)})
	}
	if len(p.cache) != 3 {
		t.Fatalf("cache holds %d, want 3", len(p.cache))
	}
	if _, ok := p.fresh(Target{Endpoint: netip.MustParseAddrPort("192.0.2.1:1000")}); ok {
		t.Error("the oldest outcome stayed")
	}
	if _, ok := p.fresh(Target{Endpoint: netip.MustParseAddrPort("192.0.2.1:1004")}); !ok {
		t.Error("the newest outcome went")
	}
}

// countingDial wraps the prober's dialer to count connection attempts.
func countingDial(p *Component) *int {
	var mu sync.Mutex
	n := new(int)
	next := p.dial
	p.dial = func(ctx context.Context, ep netip.AddrPort) (net.Conn, error) {
		mu.Lock()
		*n++
		mu.Unlock()
		return next(ctx, ep)
	}
	return n
}

// TestRefusals: internal, allowlisted and non-public endpoints, and any
// endpoint while probing is off, are never dialled.
func TestRefusals(t *testing.T) {
	srv := serve(t, nil, echoHandler)
	internal := netip.MustParsePrefix("203.0.113.0/24")
	allowed := netip.MustParseAddrPort("198.51.100.9:443")
	deps := Dependencies{
		Internal: func(a netip.Addr) bool { return internal.Contains(a) || a == srv.ep().Addr() },
		Allowed:  func(ep netip.AddrPort) bool { return ep == allowed },
	}
	cases := []struct {
		ep     netip.AddrPort
		cfg    func(*Configuration)
		reason string
	}{
		{netip.MustParseAddrPort("203.0.113.5:3333"), nil, SkipInternal},
		{srv.ep(), nil, SkipInternal}, // a listening campus host: never dialled
		{allowed, nil, SkipAllowlisted},
		{netip.MustParseAddrPort("10.1.2.3:3333"), nil, SkipNotPublic},
		{netip.MustParseAddrPort("192.168.1.1:3333"), nil, SkipNotPublic},
		{netip.MustParseAddrPort("100.64.1.1:3333"), nil, SkipNotPublic},
		{netip.MustParseAddrPort("169.254.1.1:3333"), nil, SkipNotPublic},
		{netip.MustParseAddrPort("[fe80::1]:3333"), nil, SkipNotPublic},
		{netip.MustParseAddrPort("[fd00::1]:3333"), nil, SkipNotPublic},
		{netip.MustParseAddrPort("224.0.0.1:3333"), nil, SkipNotPublic},
		{netip.MustParseAddrPort("0.0.0.0:3333"), nil, SkipNotPublic},
		{netip.MustParseAddrPort("192.0.2.1:0"), nil, SkipNotPublic},
		{netip.MustParseAddrPort("127.0.0.2:3333"), func(c *Configuration) { c.ProbeLoopback = false }, SkipNotPublic},
		{netip.MustParseAddrPort("192.0.2.1:3333"), func(c *Configuration) { c.Enabled = false }, SkipDisabled},
	}
	for _, tc := range cases {
		cfg := testConfig()
		if tc.cfg != nil {
			tc.cfg(&cfg)
		}
		p := New(cfg, deps)
		dials := countingDial(p)
		_, err := p.Probe(context.Background(), tc.ep)
		var se *SkipError
		if !errors.As(err, &se) || se.Reason != tc.reason {
			t.Errorf("%v: err %v, want skip %s", tc.ep, err, tc.reason)
		}
		if p.Submit(tc.ep) {
			t.Errorf("%v: Submit queued it", tc.ep)
		}
		if *dials != 0 {
			t.Errorf("%v: dialled %d times", tc.ep, *dials)
		}
	}
	if srv.accepts.Load() != 0 {
		t.Errorf("the internal server got %d connections", srv.accepts.Load())
	}
}

// TestRateLimit: with a bucket of 2 and a refill far away, two endpoints
// are probed and the third waits for a token until its caller gives up,
// without a connection.
func TestRateLimit(t *testing.T) {
	cfg := testConfig()
	cfg.Rate, cfg.Burst = 1.0/3600, 2
	p := New(cfg, Dependencies{})
	dials := countingDial(p)
	var eps []netip.AddrPort
	for range 3 {
		eps = append(eps, serve(t, nil, echoHandler).ep())
	}
	for _, ep := range eps[:2] {
		if r, err := p.Probe(context.Background(), ep); err != nil || r.Outcome != Refuted {
			t.Fatalf("%v: %v %+v", ep, err, r)
		}
	}
	before := *dials
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := p.Probe(ctx, eps[2])
	var se *SkipError
	if !errors.As(err, &se) || se.Reason != SkipRateLimited {
		t.Fatalf("third probe: %v, want rate_limited", err)
	}
	if *dials != before {
		t.Errorf("the rate-limited probe dialled")
	}
}

// closeOnce counts a connection closed once, however often Close is called.
type closeOnce struct {
	net.Conn
	once sync.Once
	done func()
}

func (c *closeOnce) Close() error {
	c.once.Do(c.done)
	return c.Conn.Close()
}

// TestConcurrencyBound: with Concurrency 2 and ten endpoints that hold
// every connection open, two are probed at once and the other eight wait;
// the prober never has more than two connections open.
func TestConcurrencyBound(t *testing.T) {
	release := make(chan struct{})
	hold := func(c net.Conn) { <-release }
	var srvs []*server
	for range 10 {
		srvs = append(srvs, serve(t, nil, hold))
	}
	cfg := testConfig()
	cfg.Concurrency = 2
	cfg.AnswerTimeout = time.Minute // the hold ends by release, not by time
	p := New(cfg, Dependencies{})
	var mu sync.Mutex
	var open, most int
	next := p.dial
	p.dial = func(ctx context.Context, ep netip.AddrPort) (net.Conn, error) {
		c, err := next(ctx, ep)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		open++
		most = max(most, open)
		mu.Unlock()
		return &closeOnce{Conn: c, done: func() { mu.Lock(); open--; mu.Unlock() }}, nil
	}
	var wg sync.WaitGroup
	results := make([]Result, len(srvs))
	for i, s := range srvs {
		wg.Go(func() {
			r, err := p.Probe(context.Background(), s.ep())
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		})
	}
	held := func() (n int64) {
		for _, s := range srvs {
			n += s.open.Load()
		}
		return n
	}
	// Wait until all ten are accounted for: two holding a connection, eight waiting.
	for p.waiting.Load() != 8 || held() != 2 {
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	if most != 2 {
		t.Errorf("the prober had %d connections open at once, want 2", most)
	}
	for i, r := range results {
		if r.Outcome != Refuted {
			t.Errorf("endpoint %d: %s %s", i, r.Outcome, r.Reason)
		}
	}
}

// TestSubmitQueues: Submit returns at once, the workers probe, OnResult
// hears the outcome; a second Submit of a queued endpoint is refused.
func TestSubmitQueues(t *testing.T) {
	srv := serve(t, nil, poolHandler(loadSession(t, "zcash-stratum-flypool-eu.txt")))
	done := make(chan Result, 1)
	p := New(testConfig(), Dependencies{OnResult: func(r Result) { done <- r }})
	if !p.Submit(srv.ep()) {
		t.Fatal("not queued")
	}
	if p.Submit(srv.ep()) {
		t.Error("queued twice")
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	r := <-done
	if r.Outcome != Confirmed || r.Protocol != Stratum {
		t.Fatalf("%+v", r)
	}
}
