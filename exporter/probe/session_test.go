package probe

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minewatch/minewatch/exporter/testsupport"
)

// The real sessions the pool-faithful test servers replay: the opening of
// each mining session in the shared captures (testdata/PROVENANCE.md).
var sessions = []struct {
	file   string // under testdata/
	pcap   string // under shared/testdata/real-mining-pcaps/
	stream int    // tshark's tcp.stream
	max    int    // messages kept from the start
}{
	{"zcash-stratum-flypool-eu.txt", "stratum.pcap", 0, 10},
	{"zcash-stratum-flypool-cn.txt", "stratum.pcap", 1, 10},
	{"cryptonote-login.txt", "zcash.pcap", 0, 8},
	{"ethproxy-login.txt", "ethereum.pcap", 0, 10},
	{"ethproxy-login-2.txt", "ethereum.pcap", 1, 10},
}

var update = flag.Bool("update", false, "rewrite testdata/*.txt from the shared captures (needs tshark)")

// sessionLine is one message of a session, either way.
type sessionLine struct {
	pool bool // sent by the pool (else by the miner)
	data []byte
}

// extractSession follows one TCP stream with tshark (reassembled, without
// retransmissions) and returns its first max messages, one line each.
func extractSession(t testing.TB, pcap string, stream, max int) []sessionLine {
	t.Helper()
	tshark := testsupport.Require(t, "tshark")
	out, err := exec.Command(tshark, "-r", pcap, "-q", "-z", fmt.Sprintf("follow,tcp,raw,%d", stream)).Output()
	if err != nil {
		t.Fatalf("tshark follow %s stream %d: %v", pcap, stream, err)
	}
	// Chunks: hex, the second node's (the pool's: the miner opened the
	// connection) indented by a tab. Consecutive chunks of one side join,
	// then split into lines.
	var lines []sessionLine
	var cur []byte
	curPool := false
	flush := func() {
		for _, l := range bytes.SplitAfter(cur, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines = append(lines, sessionLine{curPool, bytes.TrimRight(l, "\r\n")})
			}
		}
		cur = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		text := sc.Text()
		pool := strings.HasPrefix(text, "\t")
		h := strings.TrimSpace(text)
		b, err := hex.DecodeString(h)
		if err != nil || h == "" {
			continue // header lines (Follow:, Filter:, Node …, =====)
		}
		if pool != curPool && len(cur) > 0 {
			flush()
		}
		curPool = pool
		cur = append(cur, b...)
	}
	flush()
	if len(lines) > max {
		lines = lines[:max]
	}
	if len(lines) == 0 {
		t.Fatalf("%s stream %d: no payload", pcap, stream)
	}
	return lines
}

// formatSession writes "> " before the miner's lines and "< " before the pool's.
func formatSession(lines []sessionLine) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		if l.pool {
			b.WriteString("< ")
		} else {
			b.WriteString("> ")
		}
		b.Write(l.data)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// loadSession reads a committed session file.
func loadSession(t testing.TB, file string) []sessionLine {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var out []sessionLine
	for i, l := range bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n")) {
		switch {
		case bytes.HasPrefix(l, []byte("< ")):
			out = append(out, sessionLine{true, l[2:]})
		case bytes.HasPrefix(l, []byte("> ")):
			out = append(out, sessionLine{false, l[2:]})
		default:
			t.Fatalf("%s:%d: neither \"< \" nor \"> \"", file, i+1)
		}
	}
	return out
}

// TestExtractedMatchesPcap keeps testdata honest: each session file is
// exactly what tshark extracts from the shared capture (go test -update
// rewrites them).
func TestExtractedMatchesPcap(t *testing.T) {
	for _, s := range sessions {
		t.Run(s.file, func(t *testing.T) {
			pcap := testsupport.Shared(t, "testdata", "real-mining-pcaps", s.pcap)
			want := formatSession(extractSession(t, pcap, s.stream, s.max))
			path := filepath.Join("testdata", s.file)
			if *update {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from what tshark extracts from %s stream %d (go test -run TestExtractedMatchesPcap -update rewrites it)", path, s.pcap, s.stream)
			}
			var pool, miner int
			for _, l := range loadSession(t, s.file) {
				if l.pool {
					pool++
				} else {
					miner++
				}
			}
			if pool == 0 || miner == 0 {
				t.Errorf("%s: %d pool and %d miner lines", s.file, pool, miner)
			}
		})
	}
}
