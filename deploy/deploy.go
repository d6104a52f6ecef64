// Package deploy holds what runs minewatch as a stack: the Dockerfile of the minewatch
// image, Grafana provisioning, the VictoriaMetrics scrape configuration and the demo
// ledger and pool intel used by the repository's docker-compose.yml. Its tests load the
// compose file with compose-go and check that everything it refers to exists.
package deploy

// ComposeFile is the stack's compose file, relative to the repository root.
const ComposeFile = "docker-compose.yml"

// BuildOutputs are paths the compose file mounts that a build step creates rather
// than the repository holding them, with the make target that creates each.
var BuildOutputs = map[string]string{
	"plugin/dist": "plugin",
}
