package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"
)

// dialFunc opens one TCP connection (a field so tests can watch dials).
type dialFunc func(ctx context.Context, ep netip.AddrPort) (net.Conn, error)

func (c *Component) dialNet(ctx context.Context, ep netip.AddrPort) (net.Conn, error) {
	d := net.Dialer{Timeout: c.cfg.ConnectTimeout}
	if c.cfg.SourceAddress.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: c.cfg.SourceAddress.AsSlice()}
	}
	return d.DialContext(ctx, "tcp", ep.String())
}

// tryResult is one connection's verdict.
type tryResult struct {
	Try
	verdict verdict
	connErr error // the TCP connect failed: the port is closed or unreachable
	tlsErr  error // the TLS handshake failed: not a TLS server
}

// run probes one target: each protocol in plain TCP and over TLS (TLS
// first on the TLS ports), until one answers as a pool. An answer that is
// not JSON-RPC (HTTP, an SSH banner, binary) or an echo ends that
// transport: the server speaks something else whatever we send. A target
// with a name is probed over TLS only, with the name as SNI: plain TCP
// carries no name, so there the shared server would answer for itself.
func (c *Component) run(ctx context.Context, tg Target) Result {
	ep := tg.Endpoint
	start := c.deps.Now()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ProbeTimeout)
	defer cancel()
	transports := []bool{false, true}
	switch {
	case tg.Name != "":
		transports = []bool{true}
	case c.cfg.tlsFirst(ep.Port()):
		transports = []bool{true, false}
	}
	r := Result{Endpoint: ep, Name: tg.Name}
	connected := false
	spoke := false // some answer showed what the server speaks (not JSON-RPC, or an echo)
	var connErr error
transports:
	for _, useTLS := range transports {
		for _, proto := range protocols {
			if ctx.Err() != nil {
				break transports
			}
			t := c.try(ctx, tg, proto, useTLS)
			r.Tries = append(r.Tries, t.Try)
			if t.connErr != nil {
				connErr = t.connErr
				break transports // the TCP port itself does not answer
			}
			connected = true
			if r.Excerpt == "" && t.Excerpt != "" {
				r.Excerpt = t.Excerpt
			}
			if t.tlsErr != nil {
				break // not a TLS server: the plain transport tells
			}
			if t.verdict == vPool {
				r.Outcome, r.Protocol, r.TLS, r.Reason, r.Excerpt = Confirmed, proto, useTLS, t.Answer, t.Excerpt
				break transports
			}
			if t.verdict == vEcho || t.verdict == vOther {
				spoke = true
				break
			}
		}
	}
	r.At = c.deps.Now()
	switch {
	case r.Outcome == Confirmed:
	case !connected:
		r.Outcome, r.Reason = Failed, fmt.Sprintf("no connection: %v", connErr)
	case ctx.Err() != nil && !errors.Is(context.Cause(ctx), context.Canceled):
		r.Outcome, r.Reason = Failed, errProbeTimeout.Error()
	case ctx.Err() != nil:
		r.Outcome, r.Reason = Failed, "cancelled"
	case connErr != nil && !spoke:
		// It let us in, then refused: a pool that limits new connections
		// looks like this too. Not enough to refute.
		r.Outcome, r.Reason = Failed, "connection refused part-way: "+summary(r.Tries)
	default:
		r.Outcome, r.Reason = Refuted, summary(r.Tries)
	}
	if r.At.Before(start) {
		r.At = start
	}
	r.Until = r.At.Add(c.ttl(r.Outcome))
	return r
}

// summary says, per transport, what the endpoint answered instead of a pool's answer.
func summary(tries []Try) string {
	var parts []string
	for _, t := range tries {
		tr := "TCP"
		if t.TLS {
			tr = "TLS"
		}
		parts = append(parts, fmt.Sprintf("%s %s: %s", tr, t.Protocol, t.Answer))
	}
	return "no mining answer (" + strings.Join(parts, "; ") + ")"
}

// try opens one connection and speaks one protocol.
func (c *Component) try(ctx context.Context, tg Target, proto string, useTLS bool) (t tryResult) {
	ep := tg.Endpoint
	t.Protocol, t.TLS = proto, useTLS
	tr := "tcp"
	if useTLS {
		tr = "tls"
	}
	c.connections[proto+"/"+tr].Inc()
	conn, err := c.dial(ctx, ep)
	if err != nil {
		t.connErr, t.Answer = err, "connect: "+err.Error()
		return t
	}
	defer conn.Close()
	if useTLS {
		tc := tls.Client(conn, &tls.Config{
			// Pools serve self-signed certificates: the probe asks what the
			// server speaks, it trusts nothing it says. The name (SNI) picks
			// the listed domain's backend on a shared address.
			ServerName:         tg.Name,
			InsecureSkipVerify: true, //nolint:gosec
			MinVersion:         tls.VersionTLS10,
		})
		hctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			t.tlsErr, t.Answer = err, "TLS handshake failed: "+err.Error()
			return t
		}
		conn = tc
	}
	lr := &lineReader{conn: conn, max: c.cfg.MaxAnswer}
	var sent [][]byte
	for _, req := range requests(proto, c.cfg.Login, c.cfg.Agent) {
		deadline := time.Now().Add(c.cfg.AnswerTimeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		_ = conn.SetWriteDeadline(deadline)
		if _, err := conn.Write(req.line); err != nil {
			if t.Answer == "" {
				t.Answer = "closed before our request: " + err.Error()
			}
			return t
		}
		sent = append(sent, req.line)
		for {
			line, err := lr.next(deadline)
			if line != nil {
				v, why, replied := classify(line, req, sent)
				if t.Excerpt == "" || v != vNothing {
					t.Excerpt = excerpt(line, 160)
				}
				t.Answer = why
				if v != vNothing {
					t.verdict = v
					return t
				}
				if replied {
					break // a reply that decided nothing: the protocol's next request
				}
				continue
			}
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				t.Answer = "no answer to " + req.method
			case errors.Is(err, io.EOF):
				t.Answer = "closed without a mining answer to " + req.method
			case errors.Is(err, syscall.ECONNRESET):
				t.Answer = "reset without a mining answer to " + req.method
			case errors.Is(err, errTooMuch):
				t.Answer = "answer too long without a mining answer"
			default:
				t.Answer = "read: " + err.Error()
			}
			return t
		}
	}
	return t
}

var errTooMuch = errors.New("answer too long")

// lineReader hands out an answer line by line, reading at most max bytes
// in all; at the end of the data (deadline, close, limit) a partial line
// still comes out, so that an SSH banner or a binary reply is classified.
type lineReader struct {
	conn  net.Conn
	buf   []byte
	total int
	max   int
	err   error
}

func (r *lineReader) next(deadline time.Time) ([]byte, error) {
	for {
		if i := bytes.IndexByte(r.buf, '\n'); i >= 0 {
			line := r.buf[: i+1 : i+1]
			r.buf = r.buf[i+1:]
			return line, nil
		}
		if r.err != nil {
			if len(r.buf) > 0 {
				line := r.buf
				r.buf = nil
				return line, nil
			}
			return nil, r.err
		}
		if r.total >= r.max {
			r.err = errTooMuch
			continue
		}
		_ = r.conn.SetReadDeadline(deadline)
		chunk := make([]byte, min(4096, r.max-r.total))
		n, err := r.conn.Read(chunk)
		r.total += n
		r.buf = append(r.buf, chunk[:n]...)
		if err != nil {
			r.err = err
		}
	}
}
