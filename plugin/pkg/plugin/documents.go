package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
	"github.com/minewatch/minewatch/plugin/pkg/pack"
	"github.com/minewatch/minewatch/plugin/pkg/report"
)

// Content types of the documents the API sends.
const (
	contentTypePDF  = "application/pdf"
	contentTypeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)

// sendFile sends a document for download under a UTF-8 file name.
func sendFile(sender backend.CallResourceResponseSender, code int, name, ctype string, body []byte, extra map[string]string) error {
	h := map[string][]string{
		"Content-Type":        {ctype},
		"Content-Disposition": {mime.FormatMediaType("attachment", map[string]string{"filename": name})},
		// a stored file is only ever downloaded, never rendered as something else
		"X-Content-Type-Options": {"nosniff"},
	}
	for k, v := range extra {
		h[k] = []string{v}
	}
	return sender.Send(&backend.CallResourceResponse{Status: code, Headers: h, Body: body})
}

// pdfError is 501 when no Chromium prints PDFs on this Grafana host.
func pdfError(err error) error {
	if errors.Is(err, pack.ErrNoChromium) {
		return refuseErr(http.StatusNotImplemented, "本服务器不能生成 PDF (no Chromium on the Grafana server): 请下载 DOCX, or install chromium and fonts-noto-cjk there — "+err.Error())
	}
	return err
}

// ReportRequest is the body of POST cases/<id>/report.
type ReportRequest struct {
	Format string        `json:"format"`
	Fields report.Fields `json:"fields"`
}

// reportOf fills the written report from the case page.
func (d *Datasource) reportOf(det CaseDetail, f report.Fields) report.Report {
	v := det.Case
	r := report.Report{CaseID: v.ID, Unit: v.Unit, UnitName: v.UnitName, IPs: v.IPs, Device: v.Device, Person: v.Person, DeviceKey: v.DeviceKey,
		Source: v.Source, State: v.State, Opened: v.Opened.Time, LocateDue: v.LocateDue.Time, ReportDue: v.ReportDue.Time,
		Located: v.Located.Time, Reported: v.Reported.Time, Closed: v.Closed.Time, Class: v.Class,
		Score: det.Evidence.Score, FirstSeen: det.Evidence.FirstSeen.Time, LastSeen: det.Evidence.LastSeen.Time,
		Fields: f, SendTo: d.Settings.ReportTo, Generated: d.Now(), Location: d.Source.Config.Location}
	if r.Score == 0 {
		r.Score = v.MaxScore
	}
	for _, x := range det.Evidence.Reasons {
		r.Reasons = append(r.Reasons, report.Reason{Label: x.Label, Points: x.Points})
	}
	for _, e := range det.Timeline {
		actor := e.Author
		if e.AuthorRole != "" {
			actor += " (" + e.AuthorRole + ")"
		}
		r.Timeline = append(r.Timeline, report.Step{At: e.At.Time, Stage: e.Stage, Class: e.Class, Note: e.Note, Actor: actor})
	}
	for _, n := range det.Notices {
		loc := d.Source.Config.Location
		line := fmt.Sprintf("%s 出口地址 %s，%s – %s", orDash(n.Number), n.Egress, campaign.FormatTime(n.Start.Time, loc), campaign.FormatTime(n.End.Time, loc))
		if n.Remote != "" {
			line += "，对端 " + n.Remote
		}
		r.Notices = append(r.Notices, line)
	}
	return r
}

func orDash(s string) string {
	if s == "" {
		return "（无编号）"
	}
	return s
}

// render writes the report in a format.
func render(ctx context.Context, r report.Report, format string) ([]byte, string, error) {
	var b bytes.Buffer
	switch format {
	case "", "docx":
		if err := report.WriteDOCX(&b, r); err != nil {
			return nil, "", err
		}
		return b.Bytes(), report.ContentTypeDOCX, nil
	case "pdf":
		if err := report.WritePDF(ctx, &b, r); err != nil {
			return nil, "", pdfError(err)
		}
		return b.Bytes(), contentTypePDF, nil
	}
	return nil, "", refuseErr(http.StatusBadRequest, "参数错误 bad format "+strconv.Quote(format)+": docx or pdf")
}

// caseReport serves GET (the pre-filled report, not stored) and POST (the
// completed report, stored with the case as an attachment) cases/<id>/report.
func (d *Datasource) caseReport(ctx context.Context, req *backend.CallResourceRequest, c Caller, id string, q url.Values, from, to time.Time, sender backend.CallResourceResponseSender) error {
	v, err := d.findCase(ctx, c, id, from, to)
	if err != nil {
		return err
	}
	format := q.Get("format")
	var fields report.Fields
	if req.Method == http.MethodPost {
		if d.Store == nil {
			return refuseErr(http.StatusServiceUnavailable, "未配置处置记录库 no case store configured (datasource setting caseStore)")
		}
		if err := c.mayWrite(v.Unit); err != nil {
			return err
		}
		if len(req.Body) > maxDispositionBody {
			return refuseErr(http.StatusRequestEntityTooLarge, "request body too large")
		}
		var in ReportRequest
		dec := json.NewDecoder(bytes.NewReader(req.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return refuseErr(http.StatusBadRequest, "参数错误 bad JSON body: "+err.Error())
		}
		if err := in.Fields.Check(); err != nil {
			return refuseErr(http.StatusBadRequest, err.Error())
		}
		format, fields = in.Format, in.Fields
		if v.storeID == 0 { // flagged, nothing recorded yet: the report opens its case
			author := casestore.Author{Login: c.Login, Role: c.Role, Via: casestore.ViaGrafana}
			var detected time.Time // traced at the episode start (casestore.HostTracer)
			if v.row != nil {
				detected = v.row.EpisodeStart
			}
			if _, err := d.Store.OpenCaseOf(ctx, v.Unit, v.IP, casestore.SourceDetected, detected, author); err != nil {
				return err
			}
			if v, err = d.findCase(ctx, c, id, from, to); err != nil {
				return err
			}
		}
	}
	det, err := d.caseDetail(ctx, v, from, to)
	if err != nil {
		return err
	}
	r := d.reportOf(det, fields)
	body, ctype, err := render(ctx, r, format)
	if err != nil {
		return err
	}
	ext := "docx"
	if ctype == contentTypePDF {
		ext = "pdf"
	}
	name := r.FileName(ext)
	if req.Method != http.MethodPost {
		return sendFile(sender, http.StatusOK, name, ctype, body, nil)
	}
	a, err := d.Store.AddAttachment(ctx, v.storeID, name, ctype, body, casestore.Author{Login: c.Login, Role: c.Role, Via: casestore.ViaGrafana})
	if errors.Is(err, casestore.ErrInvalid) {
		return refuseErr(http.StatusBadRequest, err.Error())
	}
	if err != nil {
		return err
	}
	return sendFile(sender, http.StatusCreated, name, ctype, body, map[string]string{
		"X-Minewatch-Case-Id": v.ID, "X-Minewatch-Attachment-Id": strconv.FormatInt(a.ID, 10), "X-Minewatch-Sha256": a.SHA256})
}

// attachment serves GET cases/<id>/attachments/<aid>.
func (d *Datasource) attachment(ctx context.Context, c Caller, id, aid string, from, to time.Time, sender backend.CallResourceResponseSender) error {
	v, err := d.findCase(ctx, c, id, from, to)
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(aid, 10, 64)
	if err != nil || n <= 0 || v.storeID == 0 {
		return refuseErr(http.StatusNotFound, "无此附件 no attachment "+strconv.Quote(aid)+" of case "+id)
	}
	a, body, err := d.Store.AttachmentContent(ctx, v.storeID, n)
	if errors.Is(err, casestore.ErrNotFound) {
		return refuseErr(http.StatusNotFound, "无此附件 no attachment "+aid+" of case "+id)
	}
	if err != nil {
		return err
	}
	return sendFile(sender, http.StatusOK, a.Name, a.ContentType, body, map[string]string{"X-Minewatch-Sha256": a.SHA256})
}

// meetingPack serves GET pack: the weekly meeting pack (package pack) for
// the caller's units, filtered by unit, district or under as `minewatch
// review` is.
func (d *Datasource) meetingPack(ctx context.Context, c Caller, q url.Values, sender backend.CallResourceResponseSender) error {
	if err := c.mayRead(); err != nil {
		return err
	}
	loc, now := d.Source.Config.Location, d.Now()
	week := campaign.WeekOf(now, loc)
	if s := q.Get("week"); s != "" {
		var err error
		if week, err = campaign.ParseWeek(s); err != nil {
			return refuseErr(http.StatusBadRequest, "参数错误 week: "+err.Error())
		}
	}
	if !now.After(week.Start(loc)) {
		return refuseErr(http.StatusBadRequest, fmt.Sprintf("参数错误 week %s: 该周尚未开始 the week has not started", week))
	}
	level, err := campaign.ParseLevel(q.Get("level"))
	if err != nil {
		return refuseErr(http.StatusBadRequest, "参数错误 level: "+err.Error())
	}
	asked := campaign.Filter{Units: q["unit"], Districts: q["district"], Sectors: q["sector"], Under: q["under"]}
	for _, u := range append(append([]string(nil), asked.Units...), asked.Under...) {
		if !campaign.ValidUnit(u) {
			return refuseErr(http.StatusBadRequest, "参数错误 bad unit id "+strconv.Quote(u))
		}
		if !c.Allows(u) {
			return refuseErr(http.StatusForbidden, "无权查看 unit "+u+" is not one of "+c.Login+"'s units")
		}
	}
	f := asked
	if !c.scope.All && len(f.Units) == 0 { // a unit lead's pack covers their units
		f.Units = c.scope.Units
	}
	rev, err := d.Source.Review(ctx, f, level, week, now, nil)
	if err != nil {
		return err
	}
	p := pack.Pack{Review: rev, Selection: pack.Selection(f), Generated: now, Location: loc}
	var b bytes.Buffer
	format, ctype := q.Get("format"), contentTypeXLSX
	switch format {
	case "", "xlsx":
		format = "xlsx"
		err = pack.WriteXLSX(&b, p)
	case "pdf":
		ctype = contentTypePDF
		if err = pack.WritePDF(ctx, &b, p); err != nil {
			err = pdfError(err)
		}
	default:
		return refuseErr(http.StatusBadRequest, "参数错误 bad format "+strconv.Quote(format)+": xlsx or pdf")
	}
	if err != nil {
		return err
	}
	sel := "all"
	if len(asked.Units)+len(asked.Districts)+len(asked.Under) > 0 {
		sel = strings.Join(append(append(append([]string(nil), asked.Units...), asked.Districts...), asked.Under...), "+")
	}
	name := fmt.Sprintf("周研判会议材料-%s-%s-%s.%s", week, rev.Level, sel, format)
	return sendFile(sender, http.StatusOK, name, ctype, b.Bytes(), nil)
}
