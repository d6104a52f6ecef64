package campaign

import (
	"context"
	"sort"
	"time"
)

// Disposition stages recorded for a case, in order: a later stage
// satisfies the deadlines of the earlier ones.
const (
	StageLocated  = "located"
	StageReported = "reported"
	StageClosed   = "closed"
)

// Disposition classes.
var DispositionClasses = []string{"active", "passive", "research", "false-positive"}

// StageRank orders the stages; 0 for an unknown stage.
func StageRank(stage string) int {
	switch stage {
	case StageLocated:
		return 1
	case StageReported:
		return 2
	case StageClosed:
		return 3
	}
	return 0
}

// StageLabel is the Chinese name of a stage.
func StageLabel(stage string) string {
	switch stage {
	case StageLocated:
		return "已定位"
	case StageReported:
		return "已报告"
	case StageClosed:
		return "已结案"
	}
	return stage
}

// Disposition is one recorded step of a case, with who recorded it (the
// Grafana user's login and role, or the OS user of the CLI).
type Disposition struct {
	IP, Unit, Stage, Class, Note string
	Author, AuthorRole           string
	At                           time.Time
}

// WithoutPersons blanks what names people, for a datasource that hides
// persons: the note (free text, often "张同学的电脑") and the author's login.
func (d Disposition) WithoutPersons() Disposition {
	d.Note, d.Author = "", ""
	return d
}

// DispositionStore is where the tracker and the review read dispositions:
// the case store (package casestore), never VictoriaMetrics, whose
// unauthenticated import would let anyone who reaches it close a case.
type DispositionStore interface {
	// Dispositions returns those recorded in [from, to] for units of the scope.
	Dispositions(ctx context.Context, sc Scope, from, to time.Time) ([]Disposition, error)
}

// Case is an episode with its deadlines and the dispositions recorded for it.
type Case struct {
	Episode                        Interval
	LocateDeadline, ReportDeadline time.Time
	LocateOverdue, ReportOverdue   bool
	Latest                         *Disposition // highest stage recorded for the case by the moment of judgement
}

// Overdue reports whether either deadline was missed.
func (c Case) Overdue() bool { return c.LocateOverdue || c.ReportOverdue }

// CaseAt judges episode eps[i] at moment at. Dispositions count for the case
// when recorded at or after the episode start, before the next episode
// started and not after at. A deadline is missed when it passed by at with
// no disposition of that stage or a later one.
func CaseAt(eps []Interval, i int, disps []Disposition, at time.Time, cfg Config) Case {
	ep := eps[i]
	c := Case{
		Episode:        ep,
		LocateDeadline: ep.Start.Add(cfg.LocateDeadline),
		ReportDeadline: ep.Start.Add(cfg.ReportDeadline),
	}
	limit := at
	if i+1 < len(eps) && eps[i+1].Start.Before(limit) {
		limit = eps[i+1].Start
	}
	best := 0
	for k := range disps {
		d := &disps[k]
		if d.At.Before(ep.Start) || d.At.After(limit) || (d.At.Equal(limit) && limit.Before(at)) {
			continue
		}
		r := StageRank(d.Stage)
		if r > best || (r == best && c.Latest != nil && d.At.After(c.Latest.At)) {
			best, c.Latest = r, d
		}
	}
	c.LocateOverdue = !c.LocateDeadline.After(at) && best < StageRank(StageLocated)
	c.ReportOverdue = !c.ReportDeadline.After(at) && best < StageRank(StageReported)
	return c
}

// HostKey identifies an IP within a unit.
type HostKey struct{ IP, Unit string }

// HostHistory is what the definitions need of one IP: its flagged runs and
// its dispositions.
type HostHistory struct {
	HostKey
	Runs         []Interval
	Dispositions []Disposition
}

func sortDispositions(ds []Disposition) {
	sort.Slice(ds, func(i, j int) bool { return ds[i].At.Before(ds[j].At) })
}
