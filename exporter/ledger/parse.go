package ledger

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/exporter/yamlcheck"
)

// parsePrefix accepts a CIDR or a bare address (one host). Host bits must be
// zero: "10.20.1.0/16" is more often a typo than a shorthand.
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not a valid CIDR", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a valid CIDR", s)
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("%q is not a valid CIDR", s)
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set (did you mean %s?)", s, m)
	}
	return p, nil
}

func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q is not a valid IP address", s)
	}
	return a.Unmap(), nil
}

func oneOf(allowed []string) string { return strings.Join(allowed, " | ") }

func parseYAML(name string, data []byte) ([]rawUnit, []rawAsset, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, yamlSyntaxError(name, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil, nil // empty file
	}
	w := walker{&yamlcheck.Walker{File: name}}
	var units []rawUnit
	var assets []rawAsset
	w.fields(doc.Content[0], "", []string{"units", "assets"}, func(key string, v *yaml.Node, field string) {
		switch key {
		case "units":
			w.seq(v, field, func(_ int, n *yaml.Node, field string) {
				if ru, ok := w.unit(n, field); ok {
					units = append(units, ru)
				}
			})
		case "assets":
			w.seq(v, field, func(_ int, n *yaml.Node, field string) {
				if ra, ok := w.asset(n, field); ok {
					assets = append(assets, ra)
				}
			})
		}
	})
	return units, assets, errors.Join(w.Errs...)
}

func (w walker) unit(n *yaml.Node, path string) (rawUnit, bool) {
	u := &Unit{}
	ru := rawUnit{u: u, at: pos{w.File, n.Line, path}}
	var idNode, nameNode, sectorNode *yaml.Node
	w.fields(n, path, []string{"id", "name", "sector", "parent", "lead", "cidrs", "egress"}, func(key string, v *yaml.Node, field string) {
		switch key {
		case "id":
			idNode = v
			u.ID = w.str(v, field)
			ru.at = pos{w.File, v.Line, field}
			if u.ID != "" && !names.ValidUnitID(u.ID) {
				w.errf(v, field, "%q: %s (it becomes a metric label)", u.ID, names.UnitIDRule)
				u.ID = ""
			} else if u.ID == Unassigned {
				w.errf(v, field, "%q is reserved for internal addresses outside every unit", u.ID)
				u.ID = ""
			}
		case "name":
			nameNode = v
			u.Name = w.str(v, field)
		case "sector":
			sectorNode = v
			u.Sector = w.str(v, field)
			if !slices.Contains(Sectors, u.Sector) {
				w.errf(v, field, "unknown sector %q (allowed: %s)", u.Sector, oneOf(Sectors))
			}
		case "parent":
			u.Parent = w.str(v, field)
			ru.parentAt = pos{w.File, v.Line, field}
		case "lead":
			w.fields(v, field, []string{"name", "email"}, func(key string, v *yaml.Node, field string) {
				switch key {
				case "name":
					u.Lead.Name = w.str(v, field)
				case "email":
					u.Lead.Email = w.str(v, field)
					if a, err := mail.ParseAddress(u.Lead.Email); u.Lead.Email != "" && (err != nil || a.Address != u.Lead.Email) {
						w.errf(v, field, "%q is not a plain email address (name@example.edu.cn)", u.Lead.Email)
					}
				}
			})
		case "cidrs":
			w.seq(v, field, func(_ int, c *yaml.Node, field string) {
				p, err := parsePrefix(w.str(c, field))
				if err != nil {
					w.errf(c, field, "%v", err)
					return
				}
				u.CIDRs = append(u.CIDRs, p)
				ru.cidrAt = append(ru.cidrAt, pos{w.File, c.Line, field})
			})
		case "egress":
			w.seq(v, field, func(_ int, c *yaml.Node, field string) {
				p, err := parsePrefix(w.str(c, field))
				if err != nil {
					w.errf(c, field, "%v", err)
					return
				}
				u.Egress = append(u.Egress, p)
				ru.egressAt = append(ru.egressAt, pos{w.File, c.Line, field})
			})
		}
	})
	if n.Kind != yaml.MappingNode {
		return ru, false
	}
	if idNode == nil {
		w.errf(n, path+".id", "missing: every unit needs an id")
	}
	if nameNode == nil || u.Name == "" {
		w.errf(n, path+".name", "missing: every unit needs a name (单位名称)")
	}
	if sectorNode == nil {
		w.errf(n, path+".sector", "missing (allowed: %s)", oneOf(Sectors))
	}
	if u.Parent != "" && u.Parent == u.ID {
		w.errf(nil, ru.parentAt.field, "a unit cannot be its own parent")
		u.Parent = ""
	}
	return ru, u.ID != ""
}

func (w walker) asset(n *yaml.Node, path string) (rawAsset, bool) {
	a := &Asset{}
	ra := rawAsset{a: a, at: pos{w.File, n.Line, path}, unitAt: pos{w.File, n.Line, path + ".unit"}}
	ok := true
	w.fields(n, path, []string{"ip", "unit", "name", "kind", "location", "department", "owner", "research"}, func(key string, v *yaml.Node, field string) {
		s := ""
		if key != "research" {
			s = w.str(v, field)
		}
		switch key {
		case "ip":
			ip, err := parseIP(s)
			if err != nil {
				w.errf(v, field, "%v", err)
				ok = false
			}
			a.IP = ip
			ra.at = pos{w.File, v.Line, field}
		case "unit":
			a.Unit = s
			ra.unitAt = pos{w.File, v.Line, field}
		case "name":
			a.Name = s
		case "kind":
			a.Kind = s
			if !slices.Contains(Kinds, s) {
				w.errf(v, field, "unknown kind %q (allowed: %s)", s, oneOf(Kinds))
			}
		case "location":
			a.Location = s
		case "department":
			a.Department = s
		case "owner":
			a.Owner = s
		case "research":
			a.Research = w.boolean(v, field)
		}
	})
	if n.Kind != yaml.MappingNode {
		return ra, false
	}
	if !a.IP.IsValid() && ok {
		w.errf(n, path+".ip", "missing: every asset needs an ip")
	}
	if a.Unit == "" {
		w.errf(n, path+".unit", "missing: every asset needs the id of its unit")
	}
	if a.Kind == "" {
		a.Kind = "other"
	}
	return ra, a.IP.IsValid() && a.Unit != ""
}

// csvColumns maps header names (English, and the Chinese ones a spreadsheet
// is likely to carry) to asset fields. "note" columns are kept for people.
var csvColumns = map[string]string{
	"ip": "ip", "ip地址": "ip", "地址": "ip",
	"unit": "unit", "单位": "unit", "单位id": "unit", "单位编号": "unit",
	"name": "name", "名称": "name", "资产名称": "name", "设备名称": "name",
	"kind": "kind", "类型": "kind", "设备类型": "kind",
	"location": "location", "位置": "location", "地点": "location",
	"department": "department", "部门": "department",
	"owner": "owner", "负责人": "owner", "责任人": "owner",
	"research": "research", "科研": "research",
	"note": "", "notes": "", "备注": "",
}

// parseCSV reads the asset table as Excel and WPS save it: UTF-8, with or
// without a byte-order mark, a header row naming the columns in any order.
func parseCSV(name string, data []byte) ([]rawAsset, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, &Error{File: name, Msg: "not UTF-8 text: save the sheet as \"CSV UTF-8\" (CSV UTF-8（逗号分隔）)"}
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, csvErr(name, err)
	}
	var errs []error
	cols := make([]string, len(header))
	have := map[string]int{}
	for i, h := range header {
		key := strings.ToLower(strings.TrimSpace(h))
		f, ok := csvColumns[key]
		switch {
		case key == "":
			continue
		case !ok:
			errs = append(errs, &Error{File: name, Line: 1, Field: fmt.Sprintf("column %d", i+1),
				Msg: fmt.Sprintf("unknown column %q (known: ip, unit, name, kind, location, department, owner, research, note)", h)})
			continue
		case f == "":
			continue
		}
		if prev, dup := have[f]; dup {
			errs = append(errs, &Error{File: name, Line: 1, Field: fmt.Sprintf("column %d", i+1),
				Msg: fmt.Sprintf("column %q repeats column %d", h, prev+1)})
			continue
		}
		have[f] = i
		cols[i] = f
	}
	for _, must := range []string{"ip", "unit"} {
		if _, ok := have[must]; !ok {
			errs = append(errs, &Error{File: name, Line: 1, Msg: fmt.Sprintf("the header row has no %q column", must)})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	var out []rawAsset
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, csvErr(name, err))
			break
		}
		line, _ := r.FieldPos(0)
		if strings.TrimSpace(strings.Join(rec, "")) == "" {
			continue // blank row
		}
		a := &Asset{Kind: "other"}
		ra := rawAsset{a: a, at: pos{name, line, "ip"}, unitAt: pos{name, line, "unit"}}
		at := func(col string) pos { return pos{name, line, col} }
		for i, v := range rec {
			if i >= len(cols) || cols[i] == "" {
				if i >= len(cols) && strings.TrimSpace(v) != "" {
					errs = append(errs, at(fmt.Sprintf("column %d", i+1)).errf("value %q has no column in the header row", v))
				}
				continue
			}
			v = strings.TrimSpace(v)
			switch cols[i] {
			case "ip":
				ip, err := parseIP(v)
				if v == "" {
					errs = append(errs, at("ip").errf("missing"))
				} else if err != nil {
					errs = append(errs, at("ip").errf("%v", err))
				}
				a.IP = ip
			case "unit":
				a.Unit = v
				if v == "" {
					errs = append(errs, at("unit").errf("missing: every asset needs the id of its unit"))
				}
			case "name":
				a.Name = v
			case "kind":
				if v != "" {
					a.Kind = v
					if !slices.Contains(Kinds, v) {
						errs = append(errs, at("kind").errf("unknown kind %q (allowed: %s)", v, oneOf(Kinds)))
					}
				}
			case "location":
				a.Location = v
			case "department":
				a.Department = v
			case "owner":
				a.Owner = v
			case "research":
				b, ok := parseBool(v)
				if !ok {
					errs = append(errs, at("research").errf("%q must be true or false (是/否)", v))
				}
				a.Research = b
			}
		}
		if a.IP.IsValid() && a.Unit != "" {
			out = append(out, ra)
		}
	}
	return out, errors.Join(errs...)
}

func csvErr(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &Error{File: name, Line: pe.Line, Msg: pe.Err.Error()}
	}
	return &Error{File: name, Msg: err.Error()}
}

// yamlSyntaxError turns yaml.v3's "yaml: line 3: ..." into "file:3: ...".
func yamlSyntaxError(name string, err error) error { return yamlcheck.SyntaxError(name, err) }
