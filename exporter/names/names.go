// Package names owns the names the parts of minewatch share: the metrics the
// exporter and the case command write (with their type, labels and meaning),
// the detection signals (id, Chinese and English label, points), the unit
// sectors, the rule for unit ids and the campaign's time zone. The exporter,
// the Grafana plugin, the alert rules, the dashboards' tests and
// docs/metrics.md all take these from here, so changing one means changing
// it once.
//
// It is a leaf: it imports only the standard library, so any package may
// import it without pulling in anything else.
//
// Where a change goes:
//   - a new metric: its constant and catalogue row in metrics.go, the code
//     that writes it, and its row in docs/metrics.md (go test ./docs fails
//     until all three agree, and prints the row to paste);
//   - a new signal: its row in signals.go, a slot in exporter/score (which
//     decides when it fires and takes its points from here), and its row in
//     docs/metrics.md; the docs test fails until the engine really emits it;
//   - new points for a signal: signals.go only (then the docs row).
package names
