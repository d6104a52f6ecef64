package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"gopkg.in/yaml.v3"
)

// WriteTruth writes one JSON line per host.
func WriteTruth(w io.Writer, truth []Truth) error {
	enc := json.NewEncoder(w)
	for i := range truth {
		if err := enc.Encode(&truth[i]); err != nil {
			return err
		}
	}
	return nil
}

type ledgerLead struct {
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
}
type ledgerUnit struct {
	ID     string     `yaml:"id"`
	Name   string     `yaml:"name"`
	Sector string     `yaml:"sector"`
	Parent string     `yaml:"parent,omitempty"`
	Lead   ledgerLead `yaml:"lead"`
	CIDRs  []string   `yaml:"cidrs"`
}
type ledgerAsset struct {
	IP         string `yaml:"ip"`
	Unit       string `yaml:"unit"`
	Name       string `yaml:"name"`
	Kind       string `yaml:"kind"`
	Location   string `yaml:"location"`
	Department string `yaml:"department"`
	Owner      string `yaml:"owner"`
	Research   bool   `yaml:"research"`
}

// WriteLedger writes the units and the high-compute assets (servers, GPU
// workstations) in the ledger format of DESIGN.md §3.2.
func WriteLedger(w io.Writer, s *Scenario, hosts []Host) error {
	var doc struct {
		Units  []ledgerUnit  `yaml:"units"`
		Assets []ledgerAsset `yaml:"assets"`
	}
	for _, u := range s.Units {
		doc.Units = append(doc.Units, ledgerUnit{ID: u.ID, Name: u.Name, Sector: u.Sector, Parent: u.Parent,
			Lead: ledgerLead(u.Lead), CIDRs: u.CIDRs})
	}
	n := 0
	for _, h := range hosts {
		if h.Kind != "server" && h.Kind != "gpu-workstation" {
			continue
		}
		n++
		name := fmt.Sprintf("服务器%03d", n)
		if h.Kind == "gpu-workstation" {
			name = fmt.Sprintf("GPU工作站%03d", n)
		}
		doc.Assets = append(doc.Assets, ledgerAsset{IP: h.IP.String(), Unit: h.Unit, Name: name, Kind: h.Kind,
			Location: "机房", Department: "信息中心", Owner: "管理员", Research: h.Research})
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	return enc.Close()
}

// WriteIntel writes the listed pools in the intel format of DESIGN.md §3.3:
// by domain when the pool has one (it resolves to the shared CDN address),
// else IP:port. Pools behind private proxies are never listed.
func WriteIntel(w io.Writer, s *Scenario) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# pool intel for scenario %s (written by minewatch flowgen)\n", s.Name)
	for _, p := range s.Pools {
		if !p.Listed {
			continue
		}
		target := p.Domain
		if target == "" {
			target = fmt.Sprintf("%s:%d", p.Addr, p.Port)
		}
		fmt.Fprintf(&b, "%s,%s,flowgen\n", target, p.Coin)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Resolved maps every listed pool domain to the address it resolves to in the
// simulation (the CDN address), for running intel without DNS.
func (s *Scenario) Resolved() map[string][]netip.Addr {
	m := map[string][]netip.Addr{}
	for i := range s.Pools {
		p := &s.Pools[i]
		if p.Listed && p.Domain != "" {
			m[p.Domain] = append(m[p.Domain], s.PoolAddr(p))
		}
	}
	return m
}
