// Package proc starts and stops the real programs the demo, the load harness
// and the tests run beside minewatch (VictoriaMetrics, vmalert, Alertmanager,
// collectors): it finds the Debian binaries in PATH or the local cache `make
// demo` fills, runs each in its own process group with its log in a file,
// waits for it to be ready, and hands out free loopback ports. A leaf: it
// imports nothing of minewatch, so anything (tests included) may use it.
package proc

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// CacheBin is where `make demo` unpacks Debian packages when they are not
// installed (apt-get download + dpkg -x, no root needed).
const CacheBin = ".cache/debs/root/usr/bin"

// Find looks a binary up in PATH, then in the local Debian cache.
func Find(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		if p := filepath.Join(CacheBin, n); isExec(p) {
			return filepath.Abs(p)
		}
	}
	return "", fmt.Errorf("%s not found in PATH nor in %s: run `make demo-deps` (or install the Debian package)", names[0], CacheBin)
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&0o111 != 0
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreeUDPPort returns a UDP port free on 127.0.0.1.
func FreeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// Proc is a child process.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	log  *os.File
}

// Start runs bin with args, its output going to logPath; the child gets its
// own process group so that Stop ends it and anything it started.
func Start(name, bin, logPath string, args ...string) (*Proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.Stdin = lf, lf, nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &Proc{Name: name, cmd: cmd, log: lf}, nil
}

// Pid is the process id, which is also its process group's id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Stop terminates the process group, then kills it after a grace period.
func (p *Proc) Stop() { p.StopWith(syscall.SIGTERM) }

// StopWith is Stop with another signal (pmacct flushes its output on SIGINT).
func (p *Proc) StopWith(sig syscall.Signal) {
	if p == nil || p.cmd.Process == nil {
		return
	}
	pg := -p.cmd.Process.Pid
	syscall.Kill(pg, sig) //nolint:errcheck // may be gone already
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }() //nolint:errcheck // exit status of a stopped child is not news
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(pg, syscall.SIGKILL) //nolint:errcheck // last resort
		<-done
	}
	p.log.Close()
}

// WaitHTTP polls url until it answers 2xx, the context ends, or the process exits.
func WaitHTTP(ctx context.Context, p *Proc, url string) error {
	for {
		resp, err := http.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // drain
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
		}
		if p != nil && p.cmd.ProcessState != nil {
			return fmt.Errorf("%s exited; see %s", p.Name, p.log.Name())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s: %v (log: %s)", p.Name, url, err, p.log.Name())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
