package main

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	builtExe  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if builtExe != "" {
		os.RemoveAll(filepath.Dir(builtExe))
	}
	os.Exit(code)
}

// minewatchExe builds this command once for the package's tests.
func minewatchExe(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "minewatch-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtExe = filepath.Join(dir, "minewatch")
		if out, err := exec.Command("go", "build", "-o", builtExe, ".").CombinedOutput(); err != nil {
			buildErr = errors.New(err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
	return builtExe
}

// TestReplayCorruptCaptureFails: `minewatch replay` exits 0 on a sound
// capture and non-zero, with the reason, on one that is cut inside its file
// header, garbled half-way, or whose datagrams are all noise.
func TestReplayCorruptCaptureFails(t *testing.T) {
	exe := minewatchExe(t)
	dir := t.TempDir()
	good, ledger := filepath.Join(dir, "tiny.pcap"), filepath.Join(dir, "ledger.yaml")
	if out, err := exec.Command(exe, "flowgen", "--quiet", "--scenario", "../../sim/testdata/tiny.yaml",
		"--out", good, "--ledger", ledger).CombinedOutput(); err != nil {
		t.Fatalf("flowgen: %v\n%s", err, out)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	variant := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	garbled := append([]byte(nil), data...)
	copy(garbled[len(garbled)/2:], strings.Repeat("\xff", 64))
	// Every UDP payload overwritten (Ethernet 14 + IPv4 20 + UDP 8 bytes kept).
	noise := append([]byte(nil), data...)
	for off := 24; off+16 <= len(noise); {
		n := int(binary.LittleEndian.Uint32(noise[off+8:]))
		for i := off + 16 + 42; i < off+16+n; i++ {
			noise[i] = byte(i*7 + 3)
		}
		off += 16 + n
	}

	for _, c := range []struct {
		name, capture string
		fail          bool
		says          string // in standard error
	}{
		{"sound", good, false, ""},
		{"cut in the file header", variant("cut.pcap", data[:10]), true, "cannot replay"},
		{"cut inside a packet", variant("short.pcap", data[:len(data)-7]), true, "cut short inside a packet"},
		{"garbled half-way", variant("garbled.pcap", garbled), true, "corrupt after its first"},
		{"payloads all noise", variant("noise.pcap", noise), true, "none of its"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(exe, "replay", "--quiet", "--ledger", ledger, c.capture)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			switch {
			case err != nil && !errors.As(err, &ee):
				t.Fatal(err)
			case c.fail && err == nil:
				t.Fatalf("exit 0 on a damaged capture\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			case !c.fail && err != nil:
				t.Fatalf("%v on a sound capture\n%s", err, stderr.String())
			case c.fail && !strings.Contains(stderr.String(), c.says):
				t.Fatalf("exit %d without %q in standard error:\n%s", ee.ExitCode(), c.says, stderr.String())
			}
			if c.fail {
				t.Logf("exit %d: %s", ee.ExitCode(), lastLine(stderr.String()))
			} else if !strings.Contains(stdout.String(), " 0 decode errors") {
				t.Errorf("sound capture with decode errors:\n%s", stdout.String())
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
