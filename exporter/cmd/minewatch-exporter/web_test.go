package main_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const webConfig = `listen:
  http: "127.0.0.1:%d"
  netflow: "127.0.0.1:%d"
  sflow: ""
  web_config_file: web.yml
ledger:
  files: [ledger.yaml]
`

// The exporter-toolkit web config guards every endpoint with basic auth.
func TestBasicAuth(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ledger.yaml"), []byte(testLedger), 0o644)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-挖矿"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "web.yml"), []byte("basic_auth_users:\n  vmagent: "+string(hash)+"\n"), 0o600)
	e := startExporter(t, dir, webConfig)

	for _, path := range []string{"/metrics", "/api/hosts", "/"} {
		if code, _ := e.get(path); code != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d, want 401", path, code)
		}
		if code, _ := e.get(path, func(r *http.Request) { r.SetBasicAuth("vmagent", "wrong") }); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong password: %d, want 401", path, code)
		}
	}
	e.user, e.pass = "vmagent", "s3cret-挖矿"
	code, body := e.get("/metrics")
	if code != http.StatusOK || !strings.Contains(body, "minewatch_ledger_units 1") {
		t.Errorf("GET /metrics with credentials: %d\n%.300s", code, body)
	}
	e.stop(syscall.SIGTERM)
}

// A web config that does not parse stops start-up with the reason.
func TestBadWebConfigRefused(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ledger.yaml"), []byte(testLedger), 0o644)
	os.WriteFile(filepath.Join(dir, "web.yml"), []byte("basic_auth_users: [oops\n"), 0o600)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("listen: {http: \"127.0.0.1:1\", netflow: \"\", sflow: \"\", web_config_file: web.yml}\nledger: {files: [ledger.yaml]}\n"), 0o644)
	out, err := runBinary("--config.file=" + cfg)
	if err == nil || !strings.Contains(out, "web config") {
		t.Fatalf("bad web config accepted: %v\n%s", err, out)
	}
}

// /debug/pprof is off unless asked for; personal data from the asset ledger
// is not in /metrics unless the config says so.
func TestDefaultsKeepThingsClosed(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ledger.yaml"), []byte(testLedger), 0o644)
	os.WriteFile(filepath.Join(dir, "pools.txt"), []byte(listedPool+":3333,XMR\n"), 0o644)
	cfg := "listen:\n  http: \"127.0.0.1:%d\"\n  netflow: \"127.0.0.1:%d\"\n  sflow: \"\"\nledger:\n  files: [ledger.yaml]\nintel:\n  files: [pools.txt]\n"
	e := startExporter(t, dir, cfg)
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1"} {
		if code, _ := e.get(path); code != http.StatusNotFound {
			t.Errorf("GET %s by default: %d, want 404", path, code)
		}
	}
	// The registered GPU workstation contacts a pool: its info series is
	// written, without the owner's name or the room.
	sendPoolContacts(t, e)
	line := e.waitMetric(`minewatch_host_info{ip="` + poolMiner + `"`)
	if strings.Contains(line, "李老师") || strings.Contains(line, "实验楼301") || strings.Contains(line, "owner=") {
		t.Errorf("personal data in /metrics by default: %s", line)
	}
	e.stop(syscall.SIGTERM)

	e = startExporter(t, dir, cfg+"metrics:\n  personal_labels: true\n", "--web.enable-pprof")
	if code, body := e.get("/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "heap") {
		t.Errorf("GET /debug/pprof/ with --web.enable-pprof: %d", code)
	}
	sendPoolContacts(t, e)
	if line := e.waitMetric(`minewatch_host_info{ip="` + poolMiner + `"`); !strings.Contains(line, `owner="李老师"`) {
		t.Errorf("metrics.personal_labels: true, but: %s", line)
	}
	e.stop(syscall.SIGTERM)
}

// TLS from the same web config: plain HTTP is refused, HTTPS with the
// server's certificate works.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ledger.yaml"), []byte(testLedger), 0o644)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "minewatch-exporter"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	os.WriteFile(filepath.Join(dir, "web.yml"), []byte("tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n"), 0o600)
	e := startExporter(t, dir, webConfig)

	if code, _ := e.get("/metrics"); code != http.StatusBadRequest {
		t.Errorf("plain HTTP to the TLS port: %d, want 400", code)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	e.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	e.base = strings.Replace(e.base, "http://", "https://", 1)
	if code, body := e.get("/metrics"); code != http.StatusOK || !strings.Contains(body, "minewatch_ledger_units 1") {
		t.Errorf("HTTPS /metrics: %d", code)
	}
	e.stop(syscall.SIGTERM)
}
