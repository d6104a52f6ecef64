package blocklist

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/minewatch/minewatch/exporter/names"
)

// WriteReport says what was kept, what the guard left out and why, and
// which domains did not resolve (Chinese first).
func (b *Blocklist) WriteReport(w io.Writer) error {
	bw := bufio.NewWriter(w)
	ports := 0
	for _, a := range b.Addrs {
		if a.Port != 0 {
			ports++
		}
	}
	fmt.Fprintf(bw, "矿池黑名单报告 blocklist report, %s（北京时间）\n", b.Created.In(names.Location()).Format("2006-01-02 15:04:05"))
	fmt.Fprintf(bw, "输入 inputs: %s; 解析 resolver: %s\n", strings.Join(b.Inputs, ", "), b.Resolver)
	fmt.Fprintf(bw, "列入 kept: %d 个地址/网段 addresses and ranges (其中 %d 个限定端口 port-limited), %d 个域名 domains\n",
		len(b.Addrs), ports, len(b.Domains))
	fmt.Fprintf(bw, "未列入 left out: %d\n", len(b.LeftOut))
	for _, l := range b.LeftOut {
		fmt.Fprintf(bw, "  %s ← %s: %s\n", l.What, l.From, l.Reason)
	}
	if len(b.Unresolved) > 0 && len(b.Unresolved) == b.LookedUp {
		fmt.Fprintf(bw, "警告 warning: %d 个域名全部未能通过 %s 解析，请检查 --dns-server none of the %d domains resolved through %s: check --dns-server\n",
			b.LookedUp, b.Resolver, b.LookedUp, b.Resolver)
	}
	if len(b.Unresolved) > 0 {
		fmt.Fprintf(bw, "未解析 did not resolve: %d（域名仍列入DNS格式，地址未知 still in the DNS formats; addresses unknown）\n", len(b.Unresolved))
		for _, u := range b.Unresolved {
			fmt.Fprintf(bw, "  %s\n", u)
		}
	}
	return bw.Flush()
}
