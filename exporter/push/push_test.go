package push

import (
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestLabelsSortedAndQuoted(t *testing.T) {
	got := labels(map[string]string{"site": `no."1"`, "bureau": "hd"})
	if want := `bureau="hd",site="no.\"1\""`; got != want {
		t.Fatalf("labels = %s, want %s", got, want)
	}
	if got := labels(nil); got != "" {
		t.Fatalf("labels(nil) = %q", got)
	}
}

func TestCheckURL(t *testing.T) {
	for _, ok := range []string{
		"http://127.0.0.1:8428/api/v1/import/prometheus",
		"http://vmagent:8429/api/v1/import/prometheus",
		"http://vminsert:8480/insert/0/prometheus/api/v1/import/prometheus",
		"https://vminsert.bureau.example:8480/insert/42:7/prometheus/api/v1/import/prometheus",
		"http://vminsert:8480/insert/multitenant/prometheus/api/v1/import/prometheus",
		"http://vmauth:8427/bureau/api/v1/import/prometheus", // a proxy's own routes: not ours to judge
	} {
		if err := CheckURL(ok); err != nil {
			t.Errorf("CheckURL(%s): %v", ok, err)
		}
	}
	for url, want := range map[string]string{
		"ftp://vm/api":   "not an http:// or https:// URL",
		"http:///api/v1": "not an http:// or https:// URL",
		"http://vminsert:8480/insert/prometheus/api/v1/import/prometheus":            `needs the tenant after /insert/: accountID or accountID:projectID (0..4294967295) or multitenant, not "prometheus"`,
		"http://vminsert:8480/insert/4294967296/prometheus/api/v1/import/prometheus": `not "4294967296"`,
		"http://vminsert:8480/insert/1:x/prometheus/api/v1/import/prometheus":        `not "1:x"`,
		"http://vminsert:8480/insert/-1/prometheus/api/v1/import/prometheus":         `not "-1"`,
		"http://vminsert:8480/insert/0/api/v1/import/prometheus":                     `takes the Prometheus text format at prometheus/api/v1/import/prometheus, not "api/v1/import/prometheus"`,
		"http://vminsert:8480/insert/0":                                              `not ""`,
		"http://vmselect:8481/select/0/prometheus/api/v1/import/prometheus":          "vmselect's read path",
	} {
		err := CheckURL(url)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckURL(%s) = %v, want %q", url, err, want)
		}
	}
}

func TestDefaultInstance(t *testing.T) {
	host, _ := os.Hostname()
	a := DefaultInstance(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9617})
	b := DefaultInstance(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9618})
	if a == b || !strings.HasSuffix(a, ":9617") || (host != "" && !strings.HasPrefix(a, host)) {
		t.Errorf("DefaultInstance = %q, %q: want host name:port, distinct per port", a, b)
	}
}

// A push carries the instance label beside the extra labels on every series.
func TestStartAddsInstance(t *testing.T) {
	bodies := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Error(err)
				return
			}
			rd = zr
		}
		b, _ := io.ReadAll(rd)
		select {
		case bodies <- string(b):
		default:
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := Configuration{URL: srv.URL + "/api/v1/import/prometheus", Interval: time.Second, Instance: "egress-b:9617", ExtraLabels: map[string]string{"site": "zd"}}
	if err := Start(ctx, c, func(w io.Writer) { io.WriteString(w, "minewatch_host_score{ip=\"10.20.3.21\",unit=\"no1\"} 80\n") }); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-bodies:
		if !strings.Contains(b, `instance="egress-b:9617"`) || !strings.Contains(b, `site="zd"`) || !strings.Contains(b, `ip="10.20.3.21"`) {
			t.Errorf("pushed %q: want the series with instance and site labels", b)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("nothing pushed within 30s")
	}
	if c.ExtraLabels["instance"] != "" {
		t.Error("Start changed the caller's ExtraLabels")
	}
}
