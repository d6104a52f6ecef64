// Package alerts holds minewatch's vmalert rule files and renders the Alertmanager
// configuration that sends each alert to the lead of the alert's unit by email.
//
// The rule files (rules/*.yml) are plain vmalert/Prometheus rule files, tested with
// promtool (tests/*_test.yml). Render turns the unit ledger into an Alertmanager
// configuration: one receiver per unit, overdue cases copied to the bureau, Chinese
// email templates (templates/email.tmpl).
package alerts

import (
	"embed"
	"fmt"
	"io/fs"

	"gopkg.in/yaml.v3"
)

//go:embed rules/*.yml templates/*.tmpl
var files embed.FS

// Rules returns the vmalert rule files, keyed by file name under rules/.
func Rules() fs.FS {
	sub, err := fs.Sub(files, "rules")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// RecordedSeries maps every series a shipped rule file records to the file
// that records it (for the catalogue checks of docs and dashboards).
func RecordedSeries() (map[string]string, error) {
	out := map[string]string{}
	files, err := fs.Glob(Rules(), "*.yml")
	if err != nil {
		return nil, err
	}
	for _, p := range files {
		b, err := fs.ReadFile(Rules(), p)
		if err != nil {
			return nil, err
		}
		var rf struct {
			Groups []struct {
				Rules []struct {
					Record string `yaml:"record"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &rf); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					out[r.Record] = "alerts/rules/" + p
				}
			}
		}
	}
	return out, nil
}
