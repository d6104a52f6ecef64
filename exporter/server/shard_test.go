package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minewatch/minewatch/exporter/config"
	"github.com/minewatch/minewatch/exporter/proc"
	"github.com/minewatch/minewatch/exporter/server"
)

// A shard naming a unit the ledger lacks stops the exporter at start, with
// the file and line of the unit: its hosts would otherwise be nobody's.
func TestStartRefusesShardUnitNotInLedger(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ledger.yaml"), []byte(ledgerYAML), 0o644)
	path := filepath.Join(dir, "config.yaml")
	httpPort, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte(fmt.Sprintf(`listen: {netflow: "", sflow: "", http: "127.0.0.1:%d"}
ledger:
  files: [ledger.yaml]
shard:
  units:
    - zd-gov-office
    - zd-no1-midle
`, httpPort)), 0o644)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		srv.Wait()
		t.Fatal("started with a shard unit the ledger lacks")
	}
	want := path + `:7: shard.units[1]: unit "zd-no1-midle" is not in the ledger`
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "zd-gov-office") {
		t.Errorf("error = %v\nwant it to contain %s (and not name the known unit)", err, want)
	}
}
