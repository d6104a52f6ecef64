package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/casestore"
)

// caseLookback is how far back the disposition view reaches: the alert rules
// read it over 180 days.
const caseLookback = 180 * 24 * time.Hour

// caseView serves the case store's dispositions on /metrics and in the push
// (config cases.store), for vmalert's deadline rules. A nil view writes nothing.
type caseView struct {
	st *casestore.Store

	mu      sync.Mutex
	lastLog time.Time
}

// openCases opens the store named in the config ("" for none). A SQLite file
// must exist already: the exporter only reads it, and an empty new file at a
// mistyped path would silently mark every case overdue.
func openCases(ctx context.Context, dsn string) (*caseView, error) {
	if dsn == "" {
		return nil, nil
	}
	if !casestore.IsPostgres(dsn) {
		if _, err := os.Stat(dsn); err != nil {
			return nil, fmt.Errorf("cases.store: %w (the plugin or `minewatch case` creates the store; give its path)", err)
		}
	}
	st, err := casestore.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("cases.store: %w", err)
	}
	return &caseView{st: st}, nil
}

// write appends the disposition gauges. A store that cannot be read leaves
// them out (vmalert then sees no disposition and keeps the case overdue,
// which errs on the side of acting) and logs at most once a minute.
func (v *caseView) write(ctx context.Context, w io.Writer, log *slog.Logger) {
	if v == nil {
		return
	}
	var b strings.Builder
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := v.st.WriteState(ctx, &b, time.Now(), caseLookback); err != nil {
		v.mu.Lock()
		logIt := time.Since(v.lastLog) >= time.Minute
		if logIt {
			v.lastLog = time.Now()
		}
		v.mu.Unlock()
		if logIt {
			log.Warn("case store unreadable: dispositions left out of /metrics", "store", v.st.String(), "err", err)
		}
		return
	}
	io.WriteString(w, b.String()) //nolint:errcheck // the HTTP or push writer reports its own errors
}
