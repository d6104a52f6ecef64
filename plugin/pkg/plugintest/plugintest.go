// Package plugintest builds the plugin's backend executable and starts it as
// Grafana does, for the tests that talk to the real binary over gRPC (the
// datasource's own tests and the per-panel dashboard harness). Test-only: no
// binary links it (exporter/testsupport's dependency test).
package plugintest

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/minewatch/minewatch/exporter/testsupport"
)

// Executable is the name Grafana looks for beside the datasource's plugin.json
// on linux/amd64 (plugin.json's "executable" plus _<os>_<arch>).
const Executable = "gpx_minewatch_mining_datasource_linux_amd64"

// Build compiles the backend's main package (the directory pkgDir) for
// linux/amd64 into a temporary directory and returns the executable's path.
func Build(t *testing.T, pkgDir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), Executable)
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = pkgDir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkgDir, err, b)
	}
	return out
}

// Launch starts the executable bin the way Grafana does through
// hashicorp/go-plugin: the magic cookie and protocol version in the
// environment, the handshake line "1|2|<network>|<address>|grpc" read from
// stdout, then gRPC. It returns the connection, the network the plugin chose
// and the plugin's stderr (its log); both end with the test.
func Launch(t *testing.T, bin string) (*grpc.ClientConn, string, *testsupport.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"grafana_plugin_type=datasource", // grpcplugin.MagicCookieKey=MagicCookieValue
		"PLUGIN_PROTOCOL_VERSIONS=2",
		"PLUGIN_UNIX_SOCKET_DIR="+t.TempDir(),
		"GF_PLUGIN_APP_URL=http://127.0.0.1:3000",
	)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testsupport.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lines <- strings.TrimSpace(line)
		io.Copy(io.Discard, r) //nolint:errcheck // keep the pipe drained
	}()
	var hs string
	select {
	case hs = <-lines:
	case <-time.After(30 * time.Second): // a bound on a hang, not a speed check
		t.Fatalf("no handshake from the plugin; stderr:\n%s", stderr)
	}
	parts := strings.Split(hs, "|")
	if len(parts) < 5 || parts[0] != "1" || parts[1] != "2" || parts[4] != "grpc" {
		t.Fatalf("handshake %q; stderr:\n%s", hs, stderr)
	}
	t.Logf("handshake: %s", hs)
	network, addr := parts[2], parts[3]
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, a)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, network, stderr
}
