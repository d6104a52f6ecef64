package ledger

import (
	"io"

	"gopkg.in/yaml.v3"
)

type yamlPerson struct {
	Name  string `yaml:"name,omitempty"`
	Email string `yaml:"email,omitempty"`
}

type yamlUnit struct {
	ID     string      `yaml:"id"`
	Name   string      `yaml:"name"`
	Sector string      `yaml:"sector"`
	Parent string      `yaml:"parent,omitempty"`
	Lead   *yamlPerson `yaml:"lead,omitempty,flow"`
	CIDRs  []string    `yaml:"cidrs,flow"`
	Egress []string    `yaml:"egress,omitempty,flow"`
}

type yamlAsset struct {
	IP         string `yaml:"ip"`
	Unit       string `yaml:"unit"`
	Name       string `yaml:"name,omitempty"`
	Kind       string `yaml:"kind"`
	Location   string `yaml:"location,omitempty"`
	Department string `yaml:"department,omitempty"`
	Owner      string `yaml:"owner,omitempty"`
	Research   bool   `yaml:"research,omitempty"`
}

// WriteYAML writes the whole ledger as one YAML file in the shape Load
// reads (DESIGN.md §3.2): merging YAML and CSV sources into one file, or
// showing what the exporter actually loaded.
func (l *Ledger) WriteYAML(w io.Writer) error {
	var doc struct {
		Units  []yamlUnit  `yaml:"units"`
		Assets []yamlAsset `yaml:"assets,omitempty"`
	}
	for _, u := range l.Units() {
		yu := yamlUnit{ID: u.ID, Name: u.Name, Sector: u.Sector, Parent: u.Parent, CIDRs: []string{}}
		if u.Lead != (Person{}) {
			yu.Lead = &yamlPerson{u.Lead.Name, u.Lead.Email}
		}
		for _, p := range u.CIDRs {
			yu.CIDRs = append(yu.CIDRs, p.String())
		}
		for _, p := range u.Egress {
			yu.Egress = append(yu.Egress, p.String())
		}
		doc.Units = append(doc.Units, yu)
	}
	for _, a := range l.Assets() {
		doc.Assets = append(doc.Assets, yamlAsset{a.IP.String(), a.Unit, a.Name, a.Kind, a.Location, a.Department, a.Owner, a.Research})
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	return enc.Close()
}
