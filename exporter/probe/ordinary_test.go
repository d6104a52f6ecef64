package probe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/net/websocket"

	"github.com/minewatch/minewatch/exporter/proc"
	"github.com/minewatch/minewatch/exporter/testsupport"
)

// The ordinary servers a suspect's long sessions may really go to, run for
// real on loopback: none of them may be confirmed as a pool.

func freeEP(t testing.TB) netip.AddrPort {
	t.Helper()
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
}

// waitFor retries ready until it succeeds or a minute has passed.
func waitFor(t testing.TB, what string, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mustRefute probes ep with TLS tried first or not and wants it refuted
// (it answers, but not as a pool).
func mustRefute(t *testing.T, ep netip.AddrPort, tlsFirst bool, wantAnswer string) Result {
	t.Helper()
	cfg := testConfig()
	if tlsFirst {
		cfg.TLSPorts = []uint16{ep.Port()}
	}
	r, err := New(cfg, Dependencies{}).Probe(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != Refuted {
		t.Fatalf("%v (tls first %v): %s, want refuted: %s", ep, tlsFirst, r.Outcome, r.Reason)
	}
	if !strings.Contains(r.Reason, wantAnswer) {
		t.Errorf("%v: reason %q does not mention %q", ep, r.Reason, wantAnswer)
	}
	t.Logf("tls first %v: %s", tlsFirst, r.Reason)
	return r
}

// TestNginxWebSocketIsNotAPool: Debian's nginx serving HTTPS with a
// WebSocket endpoint (the notification client of issue 14: one TLS
// connection for hours, a push every half minute) is refuted, whether TLS
// is tried first or only after plain TCP.
func TestNginxWebSocketIsNotAPool(t *testing.T) {
	nginx := testsupport.Require(t, "nginx")
	// The WebSocket application behind nginx: it pushes a notification.
	backend := &http.Server{Handler: websocket.Handler(func(ws *websocket.Conn) {
		_ = websocket.Message.Send(ws, `{"type":"notice","text":"new mail"}`)
		var in string
		_ = websocket.Message.Receive(ws, &in)
	})}
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go backend.Serve(bln) //nolint:errcheck // ends at Close
	t.Cleanup(func() { backend.Close() })

	cert := newCert(t)
	dir := t.TempDir()
	ep := freeEP(t)
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
  access_log %[1]s/access.log;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen %[2]s ssl;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    location /ws {
      proxy_pass http://%[5]s;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 1h;
    }
    location / { return 200 "ok\n"; }
  }
}
`, dir, ep, cert.certFile, cert.keyFile, bln.Addr())
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := proc.Start("nginx", nginx, filepath.Join(dir, "stdout.log"), "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)

	// The WebSocket endpoint really works through nginx over TLS.
	wsCfg, err := websocket.NewConfig("wss://"+ep.String()+"/ws", "https://"+ep.String()+"/")
	if err != nil {
		t.Fatal(err)
	}
	wsCfg.TlsConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test's own certificate
	var ws *websocket.Conn
	waitFor(t, "nginx", func() error {
		var err error
		ws, err = websocket.DialConfig(wsCfg)
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return fmt.Errorf("%v (error.log: %s)", err, bytes.TrimSpace(log))
		}
		return nil
	})
	var msg string
	if err := websocket.Message.Receive(ws, &msg); err != nil || !strings.Contains(msg, "notice") {
		t.Fatalf("WebSocket through nginx: %q %v", msg, err)
	}
	ws.Close()

	mustRefute(t, ep, true, "TLS stratum: HTTP answer")
	mustRefute(t, ep, false, "HTTP answer")

	// A CDN-like HTTPS server asked with a listed pool domain as SNI (the
	// shared-address case): it answers HTTP for that name too, so the name
	// is refuted there and nothing is confirmed.
	r, err := New(testConfig(), Dependencies{}).ProbeTarget(context.Background(), Target{Endpoint: ep, Name: "xmr-tls.pool.example"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != Refuted || r.Name != "xmr-tls.pool.example" || !strings.Contains(r.Reason, "HTTP answer") {
		t.Fatalf("nginx with a pool domain as SNI: %s (name %q): %s", r.Outcome, r.Name, r.Reason)
	}
	for _, try := range r.Tries {
		if !try.TLS {
			t.Errorf("a probe with a name went over plain TCP: %+v", try)
		}
	}
}

// TestMosquittoIsNotAPool: Debian's mosquitto MQTT broker (IoT keepalives,
// a hard negative of the design) is refuted.
func TestMosquittoIsNotAPool(t *testing.T) {
	mosquitto := testsupport.Require(t, "mosquitto")
	dir := t.TempDir()
	ep := freeEP(t)
	user := os.Getenv("USER")
	if u, err := exec.Command("id", "-un").Output(); err == nil {
		user = strings.TrimSpace(string(u))
	}
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nuser %s\n", ep.Port(), user)
	confPath := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := proc.Start("mosquitto", mosquitto, filepath.Join(dir, "mosquitto.log"), "-c", confPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	// A real MQTT 3.1.1 CONNECT is answered with CONNACK "accepted".
	connect := []byte{0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 4, 'p', 'r', 'b', 'e'}
	waitFor(t, "mosquitto", func() error {
		c, err := net.DialTimeout("tcp", ep.String(), time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(connect); err != nil {
			return err
		}
		ack := make([]byte, 4)
		if _, err := c.Read(ack); err != nil {
			return err
		}
		if !bytes.Equal(ack, []byte{0x20, 2, 0, 0}) {
			return fmt.Errorf("CONNACK % x", ack)
		}
		return nil
	})
	// The broker drops a client whose first packet is not CONNECT.
	mustRefute(t, ep, false, "without a mining answer to mining.subscribe")
	mustRefute(t, ep, true, "TLS handshake failed")
}

// TestSSHDIsNotAPool: Debian's OpenSSH server is refuted (its banner
// answers whatever we send). Run as the current user; as root, as nobody
// (sshd run by root wants /run/sshd, which only its service makes).
func TestSSHDIsNotAPool(t *testing.T) {
	sshd := testsupport.Require(t, "sshd")
	if !filepath.IsAbs(sshd) {
		t.Fatalf("sshd must be run by its absolute path, got %s", sshd)
	}
	dir, err := os.MkdirTemp("", "probe-sshd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "host_ed25519")
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	ep := freeEP(t)
	conf := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s/sshd.pid
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile none
`, ep.Port(), key, dir), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(sshd, "-D", "-e", "-f", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() == 0 {
		const nobody = 65534
		for _, f := range []string{dir, key, conf, logf.Name()} {
			if err := os.Chown(f, nobody, nobody); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})
	waitFor(t, "sshd", func() error {
		c, err := net.DialTimeout("tcp", ep.String(), time.Second)
		if err != nil {
			log, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("%v (log: %s)", err, bytes.TrimSpace(log))
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		banner, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(banner, "SSH-2.0-OpenSSH") {
			return fmt.Errorf("banner %q %v", banner, err)
		}
		return nil
	})
	r := mustRefute(t, ep, false, "SSH banner")
	if !strings.HasPrefix(r.Excerpt, "SSH-2.0-OpenSSH") {
		t.Errorf("evidence %q is not sshd's banner", r.Excerpt)
	}
	mustRefute(t, ep, true, "SSH banner")
}
