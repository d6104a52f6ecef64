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
	"io/fs"
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
