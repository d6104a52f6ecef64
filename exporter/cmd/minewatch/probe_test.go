package main

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"testing"
)

// TestProbeCommand: `minewatch probe` prints a loopback Stratum server as
// a confirmed pool with its answer, and refuses a private address.
func TestProbeCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := bufio.NewReader(c).ReadBytes('\n'); err == nil {
			c.Write([]byte(`{"id":1,"result":[[["mining.notify","ae6812eb4cd7735a302a8a9dd95cf71f"]],"08000002",4],"error":null}` + "\n")) //nolint:errcheck
		}
	}()
	if _, err := app.Parse([]string{"probe", "--allow-loopback", ln.Addr().String()}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runProbe(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{ln.Addr().String() + "  确认矿池 confirmed pool", "stratum over TCP: subscription", `"08000002"`, "CST"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	if _, err := app.Parse([]string{"probe", "10.1.2.3:3333"}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runProbe(&out); err == nil || !strings.Contains(err.Error(), "not probed (not_public)") {
		t.Errorf("private address: %v", err)
	}
	if _, err := app.Parse([]string{"probe", "pool.example.org@10.1.2.3:443"}); err != nil {
		t.Fatal(err)
	}
	if err := runProbe(&out); err == nil || !strings.Contains(err.Error(), "pool.example.org@10.1.2.3:443: not probed (not_public)") {
		t.Errorf("a name at a private address: %v", err)
	}
	if _, err := app.Parse([]string{"probe", "pool.example.org:3333"}); err != nil {
		t.Fatal(err)
	}
	if err := runProbe(&out); err == nil || !strings.Contains(err.Error(), "is not IP:port") {
		t.Errorf("a name: %v", err)
	}
}
