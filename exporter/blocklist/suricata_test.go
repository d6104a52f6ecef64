package blocklist

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Suricata is not in this machine's Debian archive, so `suricata -T` cannot
// run here: the rules are checked against Suricata's rule grammar by this
// parser instead (header, options split on unquoted ';', the keywords and
// their order as Suricata's dns.query sticky buffer requires).

var ruleHeader = regexp.MustCompile(`^alert dns any any -> any any \((.*)\)$`)

// ruleOptions splits a rule's option list on ';' outside quoted strings,
// honouring backslash escapes as Suricata does.
func ruleOptions(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	quoted, escaped := false, false
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
		case r == '\\':
			escaped = true
		case r == '"':
			quoted = !quoted
		case r == ';' && !quoted:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	if quoted || escaped {
		return nil, fmt.Errorf("unterminated string in %q", s)
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		return nil, fmt.Errorf("option %q not terminated by ';'", rest)
	}
	return out, nil
}

func TestSuricataRulesFollowTheGrammar(t *testing.T) {
	b := build(t)
	var buf bytes.Buffer
	f, _ := FindFormat("suricata")
	if err := f.Write(&buf, b, Options{SidBase: 1000100}); err != nil {
		t.Fatal(err)
	}
	sids := map[int]bool{}
	rules := 0
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		rules++
		m := ruleHeader.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("bad rule header: %s", line)
		}
		opts, err := ruleOptions(m[1])
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		var domain string
		for _, o := range opts {
			k, v, _ := strings.Cut(o, ":")
			keys = append(keys, k)
			switch k {
			case "msg":
				if !strings.HasPrefix(v, `"minewatch 矿池域名查询 mining pool DNS query `) || !strings.HasSuffix(v, `"`) {
					t.Errorf("msg %s", v)
				}
				domain = strings.TrimSuffix(v[strings.LastIndexByte(v, ' ')+1:], `"`)
			case "content":
				if v != `".`+domain+`"` {
					t.Errorf("content %s for %s", v, domain)
				}
			case "sid":
				n, err := strconv.Atoi(v)
				if err != nil || n < 1000000 || n > 1999999 || sids[n] {
					t.Errorf("sid %q: not a unique local sid", v)
				}
				sids[n] = true
			case "rev":
				if n, err := strconv.Atoi(v); err != nil || n < 1 {
					t.Errorf("rev %q", v)
				}
			case "classtype", "metadata":
				if strings.ContainsAny(v, `"; `) && k == "classtype" {
					t.Errorf("classtype %q", v)
				}
			case "dns.query", "dotprefix", "nocase", "endswith":
				if v != "" {
					t.Errorf("%s takes no value: %q", k, v)
				}
			default:
				t.Errorf("keyword %q is not one the writer should use", k)
			}
		}
		// The sticky buffer comes before the content it applies to;
		// dotprefix before the content; nocase and endswith after it.
		if got, want := strings.Join(keys, ","), "msg,dns.query,dotprefix,content,nocase,endswith,classtype,sid,rev,metadata"; got != want {
			t.Errorf("keyword order %s, want %s", got, want)
		}
	}
	if rules != len(b.Domains) || !sids[1000100] {
		t.Errorf("%d rules for %d domains, sids %v", rules, len(b.Domains), sids)
	}
}
