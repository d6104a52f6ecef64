// Package notice reads upstream notices (上级通报): the spreadsheets that
// CNCERT's provincial centres, the communications administration or the
// bureau send, listing the public (egress) addresses seen mining, when, and
// where known the remote endpoint and the notice number.
//
// Senders use their own column names, in Chinese or English, and their own
// file types: CSV (UTF-8 with or without BOM, or GBK as Chinese Windows Excel
// saves it) and XLSX. Read accepts any header it can name (see Columns),
// keeps columns it cannot name as extra fields of each notice, and refuses
// the whole file with every bad cell listed (row and column) rather than
// import part of it: a notice that is silently dropped is a case nobody works.
package notice

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/minewatch/minewatch/exporter/names"
)

// Notice is one row of a notice file.
type Notice struct {
	Row        int        // row in the file (the header is row 1)
	Number     string     // 通报编号; "" when the file has none
	EgressIP   netip.Addr // the address the upstream body saw (usually the unit's NAT egress)
	Start, End time.Time  // the window of activity; equal when the notice gives one moment
	Notified   time.Time  // when the notice was issued: deadlines count from here (Start when not given)
	Remote     netip.Addr // remote endpoint (pool), invalid when unknown
	RemotePort uint16     // 0 when unknown
	Note       string     // 备注
	Extra      []Field    // columns Read could not name, kept as they were
}

// Field is a column of the file with its value.
type Field struct{ Header, Value string }

// RemoteString renders the remote endpoint ("" when unknown).
func (n Notice) RemoteString() string {
	switch {
	case !n.Remote.IsValid():
		return ""
	case n.RemotePort == 0:
		return n.Remote.String()
	default:
		return netip.AddrPortFrom(n.Remote, n.RemotePort).String()
	}
}

// The columns a notice file can have.
const (
	ColNumber   = "number"
	ColIP       = "ip"
	ColTime     = "time"
	ColStart    = "start"
	ColEnd      = "end"
	ColNotified = "notified"
	ColRemote   = "remote"
	ColPort     = "port"
	ColNote     = "note"
)

// Columns maps each column to the headers that name it. Headers are
// compared after normalise (case, spaces, brackets and punctuation ignored).
var Columns = map[string][]string{
	ColNumber:   {"通报编号", "编号", "通报号", "通报单号", "工单号", "事件编号", "notice", "noticeno", "noticenumber", "number", "ticket", "id"},
	ColIP:       {"ip", "ip地址", "出口ip", "出口地址", "公网ip", "公网地址", "源ip", "源地址", "源ip地址", "涉事ip", "涉事地址", "挖矿ip", "egressip", "egress", "sourceip", "srcip", "address"},
	ColTime:     {"时间", "发现时间", "活动时间", "监测时间", "发生时间", "time", "timestamp", "seen", "datetime"},
	ColStart:    {"开始时间", "起始时间", "首次发现时间", "首次时间", "start", "starttime", "from", "firstseen"},
	ColEnd:      {"结束时间", "截止时间", "最后发现时间", "末次时间", "end", "endtime", "to", "lastseen"},
	ColNotified: {"通报时间", "通报日期", "下发时间", "noticetime", "notified", "issued"},
	ColRemote:   {"目的ip", "目的地址", "目的ip地址", "目标ip", "目标地址", "对端ip", "远端ip", "矿池ip", "矿池地址", "dstip", "destination", "destinationip", "remote", "remoteip", "pool"},
	ColPort:     {"端口", "目的端口", "目标端口", "对端端口", "矿池端口", "port", "dstport", "remoteport", "destinationport"},
	ColNote:     {"备注", "说明", "描述", "情况说明", "note", "notes", "remark", "remarks", "description"},
}

// Column headers as people read them in errors, Chinese first.
var columnLabel = map[string]string{
	ColNumber: "通报编号 number", ColIP: "IP", ColTime: "时间 time", ColStart: "开始时间 start", ColEnd: "结束时间 end",
	ColNotified: "通报时间 notified", ColRemote: "目的IP remote", ColPort: "端口 port", ColNote: "备注 note",
}

func normalise(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	var b strings.Builder
	for _, r := range h {
		switch r {
		case ' ', '\t', '_', '-', '.', '(', ')', '（', '）', '[', ']', '【', '】', ':', '：', '/', '、', '\u3000', '\ufeff':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

var byHeader = func() map[string]string {
	m := map[string]string{}
	for col, hs := range Columns {
		for _, h := range hs {
			m[normalise(h)] = col
		}
	}
	return m
}()

// CellError is one bad cell (or a missing column when Row is 1).
type CellError struct {
	Row    int
	Column string // the header as written in the file
	Msg    string
}

func (e *CellError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("第%d行 row %d: %s", e.Row, e.Row, e.Msg)
	}
	return fmt.Sprintf("第%d行 row %d, 列 column “%s”: %s", e.Row, e.Row, e.Column, e.Msg)
}

// FromRows turns a table (first row the header) into notices. It is what
// the CSV and XLSX readers share; serial is true for XLSX, whose date
// cells come as Excel serial numbers.
func FromRows(rows [][]string, serial bool) ([]Notice, error) {
	if len(rows) == 0 {
		return nil, errors.New("文件为空 the file is empty: want a header row (通报编号, IP, 时间…) and one row per notice")
	}
	header := rows[0]
	col := map[string]int{} // column → index
	var errs []error
	for i, h := range header {
		c, ok := byHeader[normalise(h)]
		if !ok {
			continue
		}
		if j, dup := col[c]; dup {
			errs = append(errs, &CellError{Row: 1, Column: h, Msg: fmt.Sprintf("names the same column (%s) as “%s”", columnLabel[c], header[j])})
			continue
		}
		col[c] = i
	}
	if _, ok := col[ColIP]; !ok {
		errs = append(errs, &CellError{Row: 1, Msg: "no IP column: name one IP, 出口IP, 源IP or 公网IP (headers: " + strings.Join(header, ", ") + ")"})
	}
	_, hasTime := col[ColTime]
	_, hasStart := col[ColStart]
	if !hasTime && !hasStart {
		errs = append(errs, &CellError{Row: 1, Msg: "no time column: name one 时间 (a moment) or 开始时间/结束时间 (a window)"})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	named := map[int]bool{}
	for _, i := range col {
		named[i] = true
	}
	var out []Notice
	for r, cells := range rows[1:] {
		row := r + 2
		if blank(cells) {
			continue
		}
		if len(cells) > len(header) {
			for _, v := range cells[len(header):] {
				if strings.TrimSpace(v) != "" {
					errs = append(errs, &CellError{Row: row, Msg: fmt.Sprintf("has %d cells but the header only %d: a value without a column (%q)", len(cells), len(header), v)})
					break
				}
			}
		}
		cell := func(c string) (string, string, bool) {
			i, ok := col[c]
			if !ok || i >= len(cells) {
				return "", "", false
			}
			return strings.TrimSpace(cells[i]), header[i], true
		}
		bad := func(h, format string, a ...any) {
			errs = append(errs, &CellError{Row: row, Column: h, Msg: fmt.Sprintf(format, a...)})
		}
		n := Notice{Row: row}
		n.Number, _, _ = cell(ColNumber)
		if v, h, _ := cell(ColIP); v == "" {
			bad(header[col[ColIP]], "empty: every notice names the address seen")
		} else if a, err := netip.ParseAddr(v); err != nil || a.Zone() != "" {
			bad(h, "%q is not an IP address", v)
		} else {
			n.EgressIP = a.Unmap()
		}
		when := func(c string) time.Time {
			v, h, ok := cell(c)
			if !ok || v == "" {
				return time.Time{}
			}
			t, err := ParseTime(v, serial)
			if err != nil {
				bad(h, "%v", err)
			}
			return t
		}
		t, start, end, notified := when(ColTime), when(ColStart), when(ColEnd), when(ColNotified)
		switch {
		case !start.IsZero() && !end.IsZero():
			n.Start, n.End = start, end
		case !start.IsZero():
			n.Start, n.End = start, start
		case !end.IsZero():
			n.Start, n.End = end, end
		}
		if !t.IsZero() {
			if n.Start.IsZero() {
				n.Start, n.End = t, t
			} else if t.Before(n.Start) || t.After(n.End) {
				_, h, _ := cell(ColTime)
				bad(h, "%s lies outside the window %s – %s", fmtTime(t), fmtTime(n.Start), fmtTime(n.End))
			}
		}
		if n.Start.IsZero() && !hasErr(errs, row) {
			bad("", "no time: fill 时间 or 开始时间")
		}
		if n.End.Before(n.Start) {
			_, h, _ := cell(ColEnd)
			bad(h, "end %s is before start %s", fmtTime(n.End), fmtTime(n.Start))
		}
		n.Notified = notified
		if n.Notified.IsZero() {
			n.Notified = n.Start
		}
		if v, h, _ := cell(ColRemote); v != "" {
			if ap, err := netip.ParseAddrPort(v); err == nil {
				n.Remote, n.RemotePort = ap.Addr().Unmap(), ap.Port()
			} else if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
				n.Remote = a.Unmap()
			} else {
				bad(h, "%q is not an IP address or IP:port (a domain is kept in 备注, not traced)", v)
			}
		}
		if v, h, _ := cell(ColPort); v != "" {
			p, err := strconv.ParseUint(strings.TrimSuffix(v, ".0"), 10, 16)
			switch {
			case err != nil || p == 0:
				bad(h, "%q is not a port (1–65535)", v)
			case n.RemotePort != 0 && uint16(p) != n.RemotePort:
				bad(h, "port %d disagrees with the remote %s", p, n.RemoteString())
			case !n.Remote.IsValid():
				bad(h, "a port without a remote IP cannot be traced: fill 目的IP")
			default:
				n.RemotePort = uint16(p)
			}
		}
		n.Note, _, _ = cell(ColNote)
		for i, v := range cells {
			if i < len(header) && !named[i] && strings.TrimSpace(v) != "" {
				n.Extra = append(n.Extra, Field{Header: header[i], Value: strings.TrimSpace(v)})
			}
		}
		out = append(out, n)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, errors.New("no notices: the file has a header but no rows")
	}
	return out, nil
}

func hasErr(errs []error, row int) bool {
	for _, e := range errs {
		var ce *CellError
		if errors.As(e, &ce) && ce.Row == row {
			return true
		}
	}
	return false
}

func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// layouts are the ways notice files write a time. Without a zone, the time
// is Beijing time (the senders are Chinese bodies).
var layouts = []string{
	"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04",
	"2006/01/02 15:04:05", "2006/01/02 15:04", "2006/1/2 15:04:05", "2006/1/2 15:04", "2006-1-2 15:04:05", "2006-1-2 15:04",
	"2006年01月02日 15:04:05", "2006年01月02日 15:04", "2006年1月2日 15:04:05", "2006年1月2日 15:04", "2006年1月2日15时04分",
	"2006-01-02", "2006/01/02", "2006/1/2", "2006年1月2日", "20060102150405",
}

// ParseTime reads a time as notice files write it. serial accepts an Excel
// serial day number (what XLSX date cells hold), in Beijing time.
func ParseTime(v string, serial bool) (time.Time, error) {
	v = strings.TrimSpace(v)
	loc := names.Location()
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	for _, l := range layouts {
		if t, err := time.ParseInLocation(l, v, loc); err == nil {
			return t, nil
		}
	}
	if serial {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 1 && f < 2958466 {
			// Day 0 is 1899-12-30 (Excel's 1900 leap-year quirk included); the fraction is the time of day.
			// Reckoned in UTC (no zone change in between), then read as Beijing wall time.
			ms := int64(f*86400*1000 + 0.5)
			w := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond)
			return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: write 2026-11-05 09:30 (北京时间) or RFC 3339", v)
}

func fmtTime(t time.Time) string { return t.In(names.Location()).Format("2006-01-02 15:04:05") }

// Sort orders notices by notice time, then row.
func Sort(ns []Notice) {
	sort.SliceStable(ns, func(i, j int) bool {
		if !ns[i].Notified.Equal(ns[j].Notified) {
			return ns[i].Notified.Before(ns[j].Notified)
		}
		return ns[i].Row < ns[j].Row
	})
}
