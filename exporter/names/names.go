// Package names owns the names the parts of minewatch share: the metrics the
// exporter and the case command write (with their type, labels and meaning),
// the detection signals (id, Chinese and English label, points), the rule for
// unit ids and the campaign's time zone. The exporter, the Grafana plugin,
// the alert rules, the dashboards' tests and docs/metrics.md all take these
// from here, so changing one means changing it once.
//
// It is a leaf: it imports only the standard library, so any package may
// import it without pulling in anything else.
package names
