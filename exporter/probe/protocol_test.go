package probe

import "testing"

// TestClassify: what counts as a pool's answer and what does not, line by line.
func TestClassify(t *testing.T) {
	sub := requests(Stratum, "minewatch-probe", "minewatch-probe/1.0")[0]
	auth := requests(Stratum, "minewatch-probe", "minewatch-probe/1.0")[1]
	login := requests(CryptoNote, "minewatch-probe", "minewatch-probe/1.0")[0]
	ethLogin := requests(EthProxy, "minewatch-probe", "minewatch-probe/1.0")[0]
	getWork := requests(EthProxy, "minewatch-probe", "minewatch-probe/1.0")[1]
	cases := []struct {
		name    string
		req     request
		line    string
		want    verdict
		replied bool
	}{
		{"btc subscription", sub, `{"id":1,"result":[[["mining.set_difficulty","b4b6693b72a50c7116db18d6497cac52"],["mining.notify","ae6812eb4cd7735a302a8a9dd95cf71f"]],"08000002",4],"error":null}`, vPool, true},
		{"stratum error array", sub, `{"id":1,"result":null,"error":[20,"Other/Unknown",null]}`, vPool, true},
		{"unauthorized worker", auth, `{"id":2,"result":null,"error":[24,"Unauthorized worker",null]}`, vPool, true},
		{"authorized", auth, `{"id":2,"result":true,"error":null}`, vPool, true},
		{"job push", sub, `{"id":null,"method":"mining.notify","params":["bf","4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000"]}`, vPool, false},
		{"cryptonote job push", login, `{"jsonrpc":"2.0","method":"job","params":{"blob":"0606","job_id":"1","target":"dc460300"}}`, vPool, false},
		{"bad wallet", login, `{"id":1,"jsonrpc":"2.0","error":{"code":-1,"message":"Invalid payment address provided"}}`, vPool, true},
		{"login accepted", login, `{"id":1,"jsonrpc":"2.0","error":null,"result":{"id":"4790","status":"OK"}}`, vPool, true},
		{"eth login", ethLogin, `{"id":1,"jsonrpc":"2.0","result":true}`, vPool, true},
		{"eth work", getWork, `{"id":2,"jsonrpc":"2.0","result":["0x22b5","0x8861","0x0112"]}`, vPool, true},

		// Not pools.
		{"json-rpc method not found naming our method", login, `{"jsonrpc":"2.0","error":{"code":-32601,"message":"unknown method \"login\""},"id":1}`, vNothing, true},
		{"generic error", sub, `{"id":1,"error":{"code":1,"message":"bad request"}}`, vNothing, true},
		{"error naming only our method", sub, `{"id":1,"error":{"code":1,"message":"no such thing: mining.subscribe"}}`, vNothing, true},
		{"subscribe answered true", sub, `{"id":1,"result":true}`, vNothing, true},
		{"login answered without a job", login, `{"id":1,"result":{"ok":1}}`, vNothing, true},
		{"eth login false", ethLogin, `{"id":1,"result":false}`, vNothing, true},
		{"another id", sub, `{"id":7,"result":[1]}`, vNothing, false},
		{"echo", sub, string(sub.line), vEcho, false},
		{"http", sub, "HTTP/1.1 400 Bad Request\r\n", vOther, false},
		{"ssh", sub, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u7\r\n", vOther, false},
		{"binary", sub, "\x20\x02\x00\x00", vOther, false},
		{"method echo with a change", sub, `{"id":1,"method":"mining.subscribe","params":[]}`, vNothing, false},
		{"notify without params", sub, `{"id":null,"method":"mining.notify","params":null}`, vNothing, false},
	}
	for _, tc := range cases {
		v, why, replied := classify([]byte(tc.line), tc.req, [][]byte{tc.req.line})
		if v != tc.want || replied != tc.replied {
			t.Errorf("%s: verdict %d replied %v (%s), want %d replied %v", tc.name, v, replied, why, tc.want, tc.replied)
		}
	}
}

func TestExcerpt(t *testing.T) {
	if got := excerpt([]byte("SSH-2.0-OpenSSH\r\n"), 160); got != "SSH-2.0-OpenSSH" {
		t.Errorf("%q", got)
	}
	if got := excerpt([]byte("\x20\x02\x00\x00"), 160); got != `\x02\x00\x00` {
		t.Errorf("%q", got)
	}
	if got := excerpt([]byte("abcdef"), 3); got != "abc…" {
		t.Errorf("%q", got)
	}
}
