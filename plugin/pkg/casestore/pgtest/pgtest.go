// Package pgtest runs a throwaway PostgreSQL server (the Debian package
// postgresql) for tests: initdb in a temporary directory, postgres on a free
// 127.0.0.1 port with its socket in that directory, stopped and removed when
// the test ends. PostgreSQL refuses to run as root, so under root (as CI
// runs) the server runs as the postgres user the package creates, or nobody.
package pgtest

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/minewatch/minewatch/exporter/proc"
)

// BinDir finds the newest /usr/lib/postgresql/<version>/bin with initdb and
// postgres. Without one the test is skipped, except under CI (CI set), where
// a missing real component fails.
func BinDir(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "postgres")) {
			return d
		}
	}
	if os.Getenv("CI") == "" {
		t.Skip("PostgreSQL not installed (Debian package postgresql; under CI this fails instead)")
	}
	t.Fatal("PostgreSQL not installed but CI is set: .ci/deps.sh installs the postgresql package")
	return ""
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// credential is who runs the server: nil when not root.
func credential(t testing.TB) (*syscall.Credential, int, int) {
	if os.Geteuid() != 0 {
		return nil, -1, -1
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, uid, gid
	}
	t.Fatal("running as root and neither a postgres nor a nobody user exists to run PostgreSQL")
	return nil, -1, -1
}

func freePort(t testing.TB) int {
	p, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Start runs a PostgreSQL server until the test ends and returns the URL of
// its postgres database (user minewatch, trust auth on loopback only).
func Start(t testing.TB) string {
	t.Helper()
	bin := BinDir(t)
	cred, uid, gid := credential(t)
	// Not t.TempDir(): its parents are 0700 root, which the server's user cannot enter.
	dir, err := os.MkdirTemp("", "minewatch-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	run := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
		return cmd
	}
	if out, err := run("initdb", "-D", data, "-U", "minewatch", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := freePort(t)
	logFile, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	log := func() string { b, _ := os.ReadFile(logFile.Name()); return string(b) }
	srv := run("postgres", "-D", data, "-k", dir, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-c", "fsync=on")
	srv.Stdout, srv.Stderr = logFile, logFile
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = srv.Process.Kill()
			<-exited
		}
	})
	url := fmt.Sprintf("postgres://minewatch@127.0.0.1:%d/postgres?sslmode=disable", port)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Wait for the server to accept connections (bounded; not a timed assertion).
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err = db.Ping(); err == nil {
			return url
		}
		select {
		case e := <-exited:
			t.Fatalf("postgres exited: %v\n%s", e, log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres not ready: %v\n%s", err, log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
