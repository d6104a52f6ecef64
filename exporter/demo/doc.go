// Package demo runs the whole stack on loopback without Docker (`minewatch
// demo`): VictoriaMetrics, vmalert, Alertmanager, a mail catcher, the
// exporter and the campus simulator, with the Debian binaries from PATH or a
// local cache (package proc).
package demo
