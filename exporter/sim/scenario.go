// Package sim simulates a campus or district network: units, hosts with
// ordinary and mining behaviours, and the routers that turn their packets
// into flow records. The truth about every host is kept aside for scoring.
package sim

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Scenario is one simulated network over a time span; the same file and seed
// always give the same flows.
type Scenario struct {
	Name      string        `yaml:"name"`
	Seed      int64         `yaml:"seed"`
	Start     time.Time     `yaml:"start"`
	Duration  time.Duration `yaml:"duration"`
	CDN       string        `yaml:"cdn"` // shared address pool domains resolve to
	Exporters []Exporter    `yaml:"exporters"`
	Pools     []Pool        `yaml:"pools"`
	Units     []Unit        `yaml:"units"`
}

// Exporter is one router or probe exporting the flows of some units.
type Exporter struct {
	ID       string        `yaml:"id"`
	Protocol string        `yaml:"protocol"` // v5 | v9 | ipfix | sflow
	Address  string        `yaml:"address"`  // exporter source address
	Sampling uint32        `yaml:"sampling"` // 1:N, 1 or 0 = unsampled
	Active   time.Duration `yaml:"active_timeout"`
	Inactive time.Duration `yaml:"inactive_timeout"`
	Units    []string      `yaml:"units"` // empty: every unit
}

// Pool is a mining pool endpoint miners talk to.
type Pool struct {
	ID     string `yaml:"id"`
	Coin   string `yaml:"coin"`
	Addr   string `yaml:"addr"`   // empty with domain: resolves to the scenario's CDN
	Domain string `yaml:"domain"` // listed by name in intel when listed
	Port   uint16 `yaml:"port"`
	TLS    bool   `yaml:"tls"`
	Listed bool   `yaml:"listed"` // appears in the intel list
}

// Lead is a unit's responsible person.
type Lead struct {
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
}

// Unit is a school, office or enterprise with its own address ranges.
type Unit struct {
	ID     string      `yaml:"id"`
	Name   string      `yaml:"name"`
	Sector string      `yaml:"sector"`
	Parent string      `yaml:"parent"`
	Lead   Lead        `yaml:"lead"`
	CIDRs  []string    `yaml:"cidrs"`
	Hosts  []HostGroup `yaml:"hosts"`
	Miners []Miner     `yaml:"miners"`
}

// HostGroup is Count ordinary hosts of one kind with a behaviour mix.
type HostGroup struct {
	Kind       string   `yaml:"kind"` // pc | lab-pc | server | gpu-workstation | iot | other
	Count      int      `yaml:"count"`
	Behaviours []string `yaml:"behaviours"`
	Research   bool     `yaml:"research"` // registered research compute (ledger research:true)
}

// Miner is Count hosts that mine with one behaviour during its episodes.
type Miner struct {
	Behaviour string    `yaml:"behaviour"` // gpu-stratum | xmrig | xmrig-tls | xmrig-proxy | trojan-idle
	Count     int       `yaml:"count"`
	Pool      string    `yaml:"pool"`
	NAT       int       `yaml:"nat"` // >1: this many machines mine behind one address
	Episodes  []Episode `yaml:"episodes"`
	Also      []string  `yaml:"also"` // ordinary behaviours the same host has
}

// Episode is a span of mining, as offsets from the scenario start.
type Episode struct {
	Start time.Duration `yaml:"start"`
	End   time.Duration `yaml:"end"`
}

// Load reads and checks a scenario file.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes and checks a scenario.
func Parse(name string, data []byte) (*Scenario, error) {
	var s Scenario
	if err := yaml.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &s, nil
}

func (s *Scenario) check() error {
	if s.Duration <= 0 {
		return fmt.Errorf("duration must be positive")
	}
	if s.Start.IsZero() {
		return fmt.Errorf("start is required")
	}
	if len(s.Exporters) == 0 {
		return fmt.Errorf("at least one exporter is required")
	}
	for i := range s.Exporters {
		e := &s.Exporters[i]
		switch e.Protocol {
		case "v5", "v9", "ipfix", "sflow":
		default:
			return fmt.Errorf("exporters[%d].protocol: %q is not one of v5 | v9 | ipfix | sflow", i, e.Protocol)
		}
		if _, err := netip.ParseAddr(e.Address); err != nil {
			return fmt.Errorf("exporters[%d].address: %v", i, err)
		}
		if e.Sampling == 0 {
			e.Sampling = 1
		}
		if e.Protocol == "sflow" && e.Sampling < 32 {
			return fmt.Errorf("exporters[%d].sampling: sFlow exports one sample per sampled packet; use 1:32 or sparser (switches use 1:256 to 1:8192)", i)
		}
		if e.Active == 0 {
			e.Active = 1800 * time.Second
		}
		if e.Inactive == 0 {
			e.Inactive = 15 * time.Second
		}
	}
	if s.CDN != "" {
		if _, err := netip.ParseAddr(s.CDN); err != nil {
			return fmt.Errorf("cdn: %v", err)
		}
	}
	pools := map[string]bool{}
	for i, p := range s.Pools {
		if p.Addr == "" && (p.Domain == "" || s.CDN == "") {
			return fmt.Errorf("pools[%d]: needs addr, or domain plus the scenario's cdn", i)
		}
		if p.Addr != "" {
			if _, err := netip.ParseAddr(p.Addr); err != nil {
				return fmt.Errorf("pools[%d].addr: %v", i, err)
			}
		}
		pools[p.ID] = true
	}
	ids := map[string]bool{}
	for _, u := range s.Units {
		ids[u.ID] = true
	}
	for i, u := range s.Units {
		if u.Parent != "" && !ids[u.Parent] {
			return fmt.Errorf("units[%d] (%s).parent: %q is not a unit of the scenario", i, u.ID, u.Parent)
		}
		if len(u.CIDRs) == 0 {
			return fmt.Errorf("units[%d] (%s): cidrs required", i, u.ID)
		}
		for _, c := range u.CIDRs {
			if _, err := netip.ParsePrefix(c); err != nil {
				return fmt.Errorf("units[%d].cidrs: %v", i, err)
			}
		}
		for j, m := range u.Miners {
			if !pools[m.Pool] {
				return fmt.Errorf("units[%d].miners[%d].pool: unknown pool %q", i, j, m.Pool)
			}
			if _, ok := minerBehaviours[m.Behaviour]; !ok {
				return fmt.Errorf("units[%d].miners[%d].behaviour: unknown %q", i, j, m.Behaviour)
			}
		}
		for j, g := range u.Hosts {
			for _, b := range g.Behaviours {
				if _, ok := ordinaryBehaviours[b]; !ok {
					return fmt.Errorf("units[%d].hosts[%d].behaviours: unknown %q", i, j, b)
				}
			}
		}
	}
	return nil
}

// PoolAddr is where the pool's traffic goes.
func (s *Scenario) PoolAddr(p *Pool) netip.Addr {
	if p.Addr != "" {
		return netip.MustParseAddr(p.Addr)
	}
	return netip.MustParseAddr(s.CDN)
}
