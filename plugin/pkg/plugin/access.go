package plugin

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
)

// Who may see and write what in the app's pages (docs/app-api.md). Grafana
// authenticates the user and passes login, email, name and org role in the
// plugin context of every resource call; nothing the request body says
// about the user is believed.
//
//   - bureau staff (org role Admin, or login or email listed in the
//     datasource's bureauUsers) see and write every unit of the
//     datasource's scope;
//   - a unit lead (the user's email is the ledger's lead email of a unit)
//     sees and writes that unit's cases only;
//   - anyone else sees no unit, and every case request is refused (403);
//   - a Viewer reads only; writes need Editor or Admin.

// readerRoles are the Grafana org roles that may read cases.
var readerRoles = map[string]bool{"Viewer": true, "Editor": true, "Admin": true}

// UnitRef is a unit as the me resource lists it.
type UnitRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Caller is the Grafana user of a request with what they may do.
type Caller struct {
	Login    string    `json:"login"`
	Email    string    `json:"email"`
	Name     string    `json:"name"`
	Role     string    `json:"role"`
	Bureau   bool      `json:"bureau"`
	Units    []UnitRef `json:"units"`
	CanWrite bool      `json:"canWrite"` // Editor or Admin with at least one unit
	ReportTo string    `json:"reportTo"` // where written reports go (datasource setting reportTo)
	// scope is the units the caller reads and writes.
	scope campaign.Scope
}

// Allows reports whether the caller may read the unit's cases.
func (c Caller) Allows(unit string) bool { return c.scope.Allows(unit) }

// accessError is a refusal (or bad input) with the HTTP status to answer.
type accessError struct {
	code int
	msg  string
}

func (e *accessError) Error() string { return e.msg }

func refuseErr(code int, msg string) error { return &accessError{code, msg} }

// caller resolves the request's user. It fails (401) without a user; a
// user with no unit gets a Caller with an empty scope.
func (d *Datasource) caller(ctx context.Context, req *backend.CallResourceRequest) (Caller, error) {
	u := req.PluginContext.User
	if u == nil || strings.TrimSpace(u.Login) == "" {
		return Caller{}, refuseErr(http.StatusUnauthorized, "未登录 no authenticated Grafana user")
	}
	c := Caller{Login: u.Login, Email: u.Email, Name: u.Name, Role: u.Role, Units: []UnitRef{}, ReportTo: d.Settings.ReportTo}
	if !readerRoles[u.Role] {
		return c, nil
	}
	admin, err := campaign.NewScope(d.Settings.ScopeUnits, nil)
	if err != nil {
		return c, err
	}
	c.Bureau = u.Role == "Admin" || slices.ContainsFunc(d.Settings.BureauUsers, func(b string) bool {
		return strings.EqualFold(b, u.Login) || (u.Email != "" && strings.EqualFold(b, u.Email))
	})
	if c.Bureau {
		c.scope = admin
		if c.Units, err = d.unitsInScope(ctx, admin); err != nil {
			return c, err
		}
	} else if d.Ledger != nil && strings.TrimSpace(u.Email) != "" {
		var ids []string
		for _, lu := range d.Ledger.Units() {
			if lu.Lead.Email != "" && strings.EqualFold(lu.Lead.Email, strings.TrimSpace(u.Email)) && admin.Allows(lu.ID) {
				ids = append(ids, lu.ID)
				c.Units = append(c.Units, UnitRef{ID: lu.ID, Name: lu.Name})
			}
		}
		sort.Strings(ids)
		c.scope = campaign.Scope{Units: ids}
	}
	sort.Slice(c.Units, func(i, j int) bool { return c.Units[i].ID < c.Units[j].ID })
	c.CanWrite = writerRoles[u.Role] && !c.scope.Empty()
	return c, nil
}

// mayRead refuses a caller without any unit.
func (c Caller) mayRead() error {
	if c.scope.Empty() {
		return refuseErr(http.StatusForbidden, "无权查看 no unit: "+c.Login+" is neither bureau staff nor the ledger's lead of a unit in this datasource's scope")
	}
	return nil
}

// mayWrite refuses a Viewer, and a unit not the caller's.
func (c Caller) mayWrite(unit string) error {
	if !writerRoles[c.Role] {
		return refuseErr(http.StatusForbidden, "无权登记 role "+c.Role+" may not write (Editor or Admin)")
	}
	if !c.scope.Allows(unit) {
		return refuseErr(http.StatusForbidden, "无权登记 unit "+unit+" is not one of "+c.Login+"'s units")
	}
	return nil
}

// unitsInScope lists every unit of the scope the bureau's pages filter by:
// the units minewatch_unit_info named in the last 30 days, the units of the
// ledger files, and each unit the datasource's scopeUnits names, whether or
// not either knows it yet (a unit whose series stopped, or one only the
// ledger knows, still has cases). Names: the series', else the ledger's.
func (d *Datasource) unitsInScope(ctx context.Context, sc campaign.Scope) ([]UnitRef, error) {
	names := map[string]string{}
	add := func(id, name string) {
		if id == "" || !sc.Allows(id) {
			return
		}
		if names[id] == "" {
			names[id] = name
		}
	}
	units, err := d.Source.Units(ctx, d.Now(), nil)
	if err != nil {
		return nil, err
	}
	for _, m := range units {
		add(m.ID, m.Name)
	}
	if d.Ledger != nil {
		for _, u := range d.Ledger.Units() {
			add(u.ID, u.Name)
		}
	}
	for _, id := range sc.Units {
		add(id, "")
	}
	out := make([]UnitRef, 0, len(names))
	for id, name := range names {
		out = append(out, UnitRef{ID: id, Name: name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
