package probe

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/minewatch/minewatch/exporter/yamlcheck"
)

func parseConfig(t *testing.T, text string) (Configuration, []error) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	w := &yamlcheck.Walker{File: "c.yaml"}
	var c Configuration
	c.DecodeYAML(w, doc.Content[0], "probe")
	return c, w.Errs
}

func TestDecodeYAML(t *testing.T) {
	c, errs := parseConfig(t, `enabled: true
source_address: 192.0.2.10
connect_timeout: 3s
answer_timeout: 4s
probe_timeout: 40s
tls_ports: [443, 5555]
rate: 0.5
burst: 4
concurrency: 2
queue_size: 100
confirmed_ttl: 72h
refuted_ttl: 12h
error_ttl: 5m
max_cache: 1000
login: bureau-probe
agent: probe/2
max_answer_bytes: 4096
probe_loopback: false
`)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := Configuration{Enabled: true, SourceAddress: netip.MustParseAddr("192.0.2.10"), ConnectTimeout: 3 * time.Second,
		AnswerTimeout: 4 * time.Second, ProbeTimeout: 40 * time.Second, TLSPorts: []uint16{443, 5555}, Rate: 0.5, Burst: 4,
		Concurrency: 2, QueueSize: 100, ConfirmedTTL: 72 * time.Hour, RefutedTTL: 12 * time.Hour, ErrorTTL: 5 * time.Minute,
		MaxCache: 1000, Login: "bureau-probe", Agent: "probe/2", MaxAnswer: 4096}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("parsed %+v\nwant   %+v", c, want)
	}
	if got := c.withDefaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("defaults changed set fields: %+v", got)
	}
	// Off by default; an empty section keeps every default.
	if d := (Configuration{}).withDefaults(); d.Enabled || !reflect.DeepEqual(d, DefaultConfiguration()) {
		t.Errorf("zero configuration = %+v", d)
	}

	_, errs = parseConfig(t, "enabled: yes please\nrate: 0\ntls_ports: [443, 70000]\nsource_address: 10.0.0.256\nbogus: 1\nconnect_timeout: 1ms\n")
	var all []string
	for _, e := range errs {
		all = append(all, e.Error())
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{`c.yaml:1: probe.enabled: "yes please" is not true or false`, `probe.rate`, `"70000" is not a TCP port`,
		`probe.source_address`, `bogus`, `probe.connect_timeout`} {
		if !strings.Contains(text, want) {
			t.Errorf("errors lack %q:\n%s", want, text)
		}
	}
}
