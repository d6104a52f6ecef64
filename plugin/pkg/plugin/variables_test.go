package plugin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/models"
)

// TestIPVariableFollowsUnitAndRange: the variables resource as the frontend's
// metricFindQuery calls it, with $unit and the dashboard's time range.
func TestIPVariableFollowsUnitAndRange(t *testing.T) {
	vm := seededVM(t)
	ds := newDS(t, vm.URL, `{}`)
	ips := func(query url.Values) []string {
		t.Helper()
		r := callResource(t, ds, "variables", query.Encode())
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", query.Encode(), r.Status, r.Body)
		}
		var opts []models.VariableOption
		if err := json.Unmarshal(r.Body, &opts); err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, o := range opts {
			out = append(out, o.Value)
		}
		return out
	}
	ms := func(tm time.Time) string { return strconv.FormatInt(tm.UnixMilli(), 10) }
	for _, c := range []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"unit u-a, week 45", url.Values{"kind": {"ips"}, "unit": {"u-a"}, "from": {ms(w45From)}, "to": {ms(w45To)}}, []string{"10.1.0.1", "10.1.0.2"}},
		{"units u-a and u-b, week 45", url.Values{"kind": {"ips"}, "unit": {"u-a", "u-b"}, "from": {ms(w45From)}, "to": {ms(w45To)}}, []string{"10.1.0.1", "10.1.0.2", "10.2.0.2"}},
		{"unit u-b, 20–27 Oct", url.Values{"kind": {"ips"}, "unit": {"u-b"}, "from": {ms(vmtest.At(2026, 10, 20, 0, 0))}, "to": {ms(vmtest.At(2026, 10, 27, 0, 0))}}, []string{"10.2.0.1"}},
		// no range: the 30 days before now (22 Nov)
		{"unit u-b, no range", url.Values{"kind": {"ips"}, "unit": {"u-b"}}, []string{"10.2.0.1", "10.2.0.2"}},
	} {
		if got := ips(c.query); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	if got := callResource(t, ds, "variables", "kind=states"); string(got.Body) != `[{"text":"挖矿中 mining","value":"mining"},{"text":"静默观察 quiet","value":"quiet"},{"text":"已清零 cleared","value":"cleared"},{"text":"复发 relapsed","value":"relapsed"}]` {
		t.Errorf("states: %s", got.Body)
	}
	for _, bad := range []string{"kind=ips&from=yesterday", "kind=ips&from=2000&to=1000"} {
		if r := callResource(t, ds, "variables", bad); r.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", bad, r.Status, r.Body)
		}
	}
}
