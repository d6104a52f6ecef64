package probe

import (
	"fmt"
	"io"

	"github.com/minewatch/minewatch/exporter/names"
)

// outcomeLabel is an outcome for people: Chinese first.
var outcomeLabel = map[Outcome]string{
	Confirmed: "确认矿池 confirmed pool",
	Refuted:   "非矿池 not a pool",
	Failed:    "未能判定 could not decide",
}

// Write prints the result for a person: outcome, protocol and transport,
// the answer that decided, when (Beijing time), and each connection tried.
func (r *Result) Write(w io.Writer) {
	fmt.Fprintf(w, "%s  %s\n", Target{r.Endpoint, r.Name}, outcomeLabel[r.Outcome])
	if r.Outcome == Confirmed {
		tr := "TCP"
		if r.TLS {
			tr = "TLS"
		}
		fmt.Fprintf(w, "  协议 protocol: %s over %s: %s\n", r.Protocol, tr, r.Reason)
		fmt.Fprintf(w, "  应答 answer:   %s\n", r.Excerpt)
	} else {
		fmt.Fprintf(w, "  原因 reason:   %s\n", r.Reason)
	}
	fmt.Fprintf(w, "  时间 at:       %s (kept until %s)\n", r.At.In(names.Location()).Format("2006-01-02 15:04:05 MST"),
		r.Until.In(names.Location()).Format("2006-01-02 15:04 MST"))
	for _, t := range r.Tries {
		tr := "TCP"
		if t.TLS {
			tr = "TLS"
		}
		fmt.Fprintf(w, "  - %s %s: %s\n", tr, t.Protocol, t.Answer)
	}
}
