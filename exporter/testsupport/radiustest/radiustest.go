// Package radiustest starts a real FreeRADIUS server on loopback for a
// test, from a minimal configuration the test owns (not the machine's
// /etc/freeradius): an authentication server that runs a users file through
// the files module (PAP for passwords), and optionally accounting into a
// detail file. The trace's tests write the accounting a server records;
// the cut-off list's tests check that its users file rejects the terminals.
package radiustest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/proc"
	"github.com/minewatch/minewatch/exporter/testsupport"
)

// Secret is the shared secret of the loopback client.
const Secret = "minewatch-test"

// Options say what the server does.
type Options struct {
	// Users is the users file the files module reads in authorize ("": no
	// authentication listener).
	Users string
	// Accounting adds an accounting listener writing to Server.Detail.
	Accounting bool
	// Env is added to the server's environment (e.g. TZ=Asia/Shanghai).
	Env []string
}

// Server is a running FreeRADIUS.
type Server struct {
	AuthPort, AcctPort int
	Detail             string // the detail file accounting goes to
	Log                string // radiusd -X output
	client             string
}

// Start writes the configuration under dir, starts radiusd -X and waits
// until it is ready; the test's cleanup stops it. A missing freeradius or
// radclient skips the test (fails it under CI=true).
func Start(t testing.TB, dir string, o Options) *Server {
	t.Helper()
	bin := testsupport.Require(t, "freeradius", "radiusd")
	s := &Server{client: testsupport.Require(t, "radclient"), Detail: filepath.Join(dir, "radacct", "detail"), Log: filepath.Join(dir, "radiusd.log")}
	conf := filepath.Join(dir, "raddb")
	for _, d := range []string{conf, filepath.Dir(s.Detail)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var modules, servers strings.Builder
	if o.Users != "" {
		users := filepath.Join(conf, "users")
		if err := os.WriteFile(users, []byte(o.Users), 0o600); err != nil {
			t.Fatal(err)
		}
		port, err := proc.FreeUDPPort()
		if err != nil {
			t.Fatal(err)
		}
		s.AuthPort = port
		fmt.Fprintf(&modules, "\tfiles {\n\t\tfilename = %s\n\t}\n\tpap {\n\t}\n", users)
		fmt.Fprintf(&servers, `server auth {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = %d
	}
	authorize {
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
}
`, port)
	}
	if o.Accounting {
		port, err := proc.FreeUDPPort()
		if err != nil {
			t.Fatal(err)
		}
		s.AcctPort = port
		fmt.Fprintf(&modules, "\tdetail {\n\t\tfilename = %s\n\t\tpermissions = 0600\n\t\theader = \"%%t\"\n\t}\n", s.Detail)
		fmt.Fprintf(&servers, `server acct {
	listen {
		type = acct
		ipaddr = 127.0.0.1
		port = %d
	}
	accounting {
		detail
	}
}
`, port)
	}
	radiusd := fmt.Sprintf(`prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = %[1]s
raddbdir = %[1]s
radacctdir = %[2]s
name = freeradius
confdir = %[1]s
run_dir = %[1]s
db_dir = %[1]s
libdir = /usr/lib/freeradius
pidfile = %[1]s/radiusd.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no
log {
	destination = stdout
}
security {
	allow_core_dumps = no
	reject_delay = 0
}
thread pool {
	start_servers = 1
	max_servers = 2
	min_spare_servers = 1
	max_spare_servers = 2
}
client loopback {
	ipaddr = 127.0.0.1
	secret = %[3]s
}
modules {
%[4]s}
%[5]s`, conf, filepath.Dir(s.Detail), Secret, modules.String(), servers.String())
	if err := os.WriteFile(filepath.Join(conf, "radiusd.conf"), []byte(radiusd), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "dictionary"), []byte("$INCLUDE /usr/share/freeradius/dictionary\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(s.Log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", "-X", "-d", conf)
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		logf.Close()
	})
	// Ready when it says so; an exit before that is a configuration error.
	for {
		b, _ := os.ReadFile(s.Log)
		if strings.Contains(string(b), "Ready to process requests") {
			return s
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("radiusd exited before it was ready: %v\n%s", err, b)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Auth sends one Access-Request with the attributes (radclient's
// "Name = value" lines) and returns radclient's output, which names the
// answer ("Received Access-Accept" / "Received Access-Reject") and its
// attributes.
func (s *Server) Auth(t testing.TB, attrs ...string) string {
	t.Helper()
	return s.send(t, "auth", s.AuthPort, "Access-", attrs)
}

// Acct sends one Accounting-Request and waits for the answer.
func (s *Server) Acct(t testing.TB, attrs ...string) {
	t.Helper()
	s.send(t, "acct", s.AcctPort, "Accounting-Response", attrs)
}

func (s *Server) send(t testing.TB, code string, port int, want string, attrs []string) string {
	t.Helper()
	cmd := exec.Command(s.client, "-x", "-r", "3", "-t", "5", fmt.Sprintf("127.0.0.1:%d", port), code, Secret)
	cmd.Stdin = strings.NewReader(strings.Join(attrs, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if !strings.Contains(string(out), "Received "+want) {
		log, _ := os.ReadFile(s.Log)
		t.Fatalf("radclient %s: %v\n%s\nserver log:\n%s", code, err, out, log)
	}
	return string(out)
}
