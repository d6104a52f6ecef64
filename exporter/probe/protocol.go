package probe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// The protocols a pool answers, in the order they are tried: Stratum v1
// (Bitcoin-family and Zcash pools, also ETH's EthereumStratum), the
// XMRig/CryptoNote login (Monero-family pools), and the Ethereum
// stratum-proxy's eth_submitLogin.
const (
	Stratum    = "stratum"
	CryptoNote = "cryptonote"
	EthProxy   = "ethproxy"
)

var protocols = []string{Stratum, CryptoNote, EthProxy}

// request is one line a protocol sends. A protocol's later requests go
// out only after a reply that decided nothing (Stratum's authorize after
// subscribe, the proxy's getWork after login), as a miner would send them.
type request struct {
	id     int
	method string
	line   []byte
}

func jsonLine(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own literal values
	}
	return append(b, '\n')
}

// requests returns what a miner of the protocol sends first, in order. Each
// goes out after the previous one's answer decided nothing.
func requests(protocol, login, agent string) []request {
	switch protocol {
	case Stratum:
		return []request{
			{1, "mining.subscribe", jsonLine(map[string]any{"id": 1, "method": "mining.subscribe", "params": []any{agent}})},
			{2, "mining.authorize", jsonLine(map[string]any{"id": 2, "method": "mining.authorize", "params": []any{login, "x"}})},
		}
	case CryptoNote:
		return []request{
			{1, "login", jsonLine(map[string]any{"id": 1, "jsonrpc": "2.0", "method": "login",
				"params": map[string]any{"login": login, "pass": "x", "agent": agent}})},
		}
	case EthProxy:
		return []request{
			{1, "eth_submitLogin", jsonLine(map[string]any{"id": 1, "jsonrpc": "2.0", "method": "eth_submitLogin", "worker": "probe", "params": []any{login, "x"}})},
			{2, "eth_getWork", jsonLine(map[string]any{"id": 2, "jsonrpc": "2.0", "method": "eth_getWork", "worker": "probe", "params": []any{}})},
		}
	}
	return nil
}

// verdict is what one line of an answer shows.
type verdict uint8

const (
	vNothing verdict = iota // JSON that decides nothing (a generic JSON-RPC error, an unknown message)
	vPool                   // a mining-protocol answer: a job, a subscription, a login answer, a Stratum error
	vEcho                   // our own request sent back: an echo service, not a pool
	vOther                  // not JSON-RPC at all: HTTP, an SSH banner, binary; the server speaks something else
)

// message is a JSON-RPC / Stratum line, either way.
type message struct {
	ID     json.RawMessage `json:"id"`
	Method *string         `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// pushes are the methods a pool sends unasked: jobs and their targets. A
// server that sends one of these speaks mining (we never send them, so an
// echo cannot).
var pushes = map[string]string{
	"mining.notify":         "job (mining.notify)",
	"mining.set_difficulty": "difficulty (mining.set_difficulty)",
	"mining.set_target":     "target (mining.set_target)",
	"mining.set_extranonce": "extranonce (mining.set_extranonce)",
	"job":                   "job",
}

// miningWords in an error message show a pool refusing our login or worker
// ("Invalid payment address provided", "Unauthorized worker").
var miningWords = regexp.MustCompile(`(?i)\b(login|worker|wallet|miner|mining|shares?|job|subscri\w*|authori[sz]\w*|unauthori[sz]\w*|stratum|pool|difficulty|hashrate|nonce|payment|payout)\b`)

// genericCodes are JSON-RPC 2.0's own error codes (parse error, invalid
// request, method not found, invalid params): any JSON-RPC service (an
// Electrum server, a wallet daemon) answers them to a method it lacks.
var genericCodes = map[int]bool{-32700: true, -32600: true, -32601: true, -32602: true}

// classify reads one line of an answer to req (sent lines are in sent);
// replied: the line is the reply to req.
func classify(line []byte, req request, sent [][]byte) (v verdict, why string, replied bool) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return vNothing, "an empty line", false
	}
	for _, s := range sent {
		if bytes.Equal(line, bytes.TrimSpace(s)) {
			return vEcho, "our request came back unchanged (an echo service)", false
		}
	}
	if line[0] != '{' {
		return vOther, describeOther(line), false
	}
	var m message
	if err := json.Unmarshal(line, &m); err != nil {
		return vOther, "not JSON-RPC (" + err.Error() + ")", false
	}
	if m.Method != nil {
		if why, ok := pushes[*m.Method]; ok && hasValue(m.Params) {
			return vPool, why, false
		}
		return vNothing, fmt.Sprintf("a %q message", *m.Method), false
	}
	if strings.Trim(string(m.ID), `"`) != fmt.Sprint(req.id) {
		return vNothing, "a reply to another id", false
	}
	if hasValue(m.Error) {
		v, why := classifyError(m.Error, req)
		return v, why, true
	}
	if !hasValue(m.Result) {
		return vNothing, "a reply with neither result nor error", true
	}
	v, why = classifyResult(m.Result, req)
	return v, why, true
}

// classifyResult reads the result of a reply to req.
func classifyResult(result json.RawMessage, req request) (verdict, string) {
	m := struct{ Result json.RawMessage }{result}
	switch req.method {
	case "mining.subscribe":
		var r []json.RawMessage
		if json.Unmarshal(m.Result, &r) == nil && len(r) > 0 {
			return vPool, "subscription (mining.subscribe result)"
		}
	case "mining.authorize":
		if string(m.Result) == "true" {
			return vPool, "worker authorized (mining.authorize result true)"
		}
	case "login":
		var r struct {
			ID     string          `json:"id"`
			Status string          `json:"status"`
			Job    json.RawMessage `json:"job"`
		}
		if json.Unmarshal(m.Result, &r) == nil {
			var job struct {
				Blob  string `json:"blob"`
				JobID string `json:"job_id"`
			}
			if hasValue(r.Job) && json.Unmarshal(r.Job, &job) == nil && (job.Blob != "" || job.JobID != "") {
				return vPool, "job (login result)"
			}
			if r.ID != "" && r.Status != "" {
				return vPool, "login accepted (login result)"
			}
		}
	case "eth_submitLogin":
		if string(m.Result) == "true" {
			return vPool, "login accepted (eth_submitLogin result true)"
		}
	case "eth_getWork":
		var r []string
		if json.Unmarshal(m.Result, &r) == nil && len(r) >= 3 && strings.HasPrefix(r[0], "0x") && strings.HasPrefix(r[1], "0x") {
			return vPool, "work (eth_getWork result)"
		}
	}
	return vNothing, "a reply that is not a mining answer"
}

func hasValue(raw json.RawMessage) bool {
	s := string(bytes.TrimSpace(raw))
	return s != "" && s != "null"
}

// classifyError: a Stratum error ([code, "message", traceback]) is only
// ever a Stratum server's; a JSON-RPC error object is a pool's when it
// speaks of logins, workers, wallets… (our method names left out: a
// generic server repeats them in "method not found").
func classifyError(raw json.RawMessage, req request) (verdict, string) {
	raw = bytes.TrimSpace(raw)
	var msg string
	code := 0
	switch raw[0] {
	case '[':
		var arr []json.RawMessage
		if json.Unmarshal(raw, &arr) == nil && len(arr) >= 2 {
			var c int
			var s string
			if json.Unmarshal(arr[0], &c) == nil && json.Unmarshal(arr[1], &s) == nil {
				return vPool, fmt.Sprintf("Stratum error [%d, %q]", c, s)
			}
		}
		return vNothing, "an error array that is not Stratum's"
	case '{':
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &e) != nil {
			return vNothing, "an unreadable error object"
		}
		msg, code = e.Message, e.Code
	case '"':
		_ = json.Unmarshal(raw, &msg)
	}
	if genericCodes[code] {
		return vNothing, fmt.Sprintf("JSON-RPC error %d %q (a JSON-RPC service without %s)", code, msg, req.method)
	}
	stripped := strings.ReplaceAll(msg, req.method, "")
	if miningWords.MatchString(stripped) {
		return vPool, fmt.Sprintf("pool error %d %q", code, msg)
	}
	return vNothing, fmt.Sprintf("error %d %q", code, msg)
}

// describeOther names what a non-JSON answer is.
func describeOther(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("SSH-")):
		return "SSH banner"
	case bytes.HasPrefix(b, []byte("HTTP/")):
		return "HTTP answer"
	case len(b) >= 3 && b[0] == 0x15 && b[1] == 0x03:
		return "TLS alert (a TLS server)"
	case !utf8.Valid(b) || bytes.ContainsFunc(b, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\r' && r != '\n' }):
		return "binary answer"
	}
	return "text that is not JSON-RPC"
}

// excerpt is the start of an answer, printable, for evidence.
func excerpt(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	cut := len(b) > n
	if cut {
		b = b[:n]
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&sb, `\x%02x`, b[0])
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&sb, `\x%02x`, r)
		default:
			sb.WriteRune(r)
		}
		b = b[size:]
	}
	if cut {
		sb.WriteString("…")
	}
	return sb.String()
}
