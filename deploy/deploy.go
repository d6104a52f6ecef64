// Package deploy holds what runs minewatch as a stack: the Dockerfile of the minewatch
// image, Grafana provisioning, the VictoriaMetrics scrape configuration and the demo
// ledger and pool intel used by the repository's docker-compose.yml. Its tests load the
// compose file with compose-go and check that everything it refers to exists.
package deploy

// ComposeFile is the stack's compose file, relative to the repository root.
const ComposeFile = "docker-compose.yml"

// BuildOutputs are paths the compose file mounts that a build step creates rather
// than the repository holding them, with the make target that creates each. None
// today: the plugin is built inside the Grafana image (deploy/grafana.Dockerfile).
var BuildOutputs = map[string]string{}

// GrafanaDockerfile builds Grafana with the plugin in it, by PluginMakeTarget.
const GrafanaDockerfile = "deploy/grafana.Dockerfile"

// PluginMakeTarget is what the Grafana image's build stage runs: the same make
// target `make test` runs natively, so the build stage's commands are tested.
const PluginMakeTarget = "plugin"
