// The per-panel harness (run by dashboards/grafana_test.go, which serves /api/ds/query from the
// built backend over gRPC on a seeded VictoriaMetrics): every panel of every dashboard through
// Grafana's frontend logic (grafana-frontend.mjs), then the checks of panel-expectations.mjs.
//
//   MINEWATCH_API=http://127.0.0.1:PORT MINEWATCH_NOW=<epoch ms> MINEWATCH_DASHBOARDS=../dashboards node harness/panels.mjs
//
// Prints one line per panel with what it shows; exits 1 listing every failed check.
import fs from 'node:fs';
import path from 'node:path';
import { panelsOf, resolveVariables, runPanel, timeRange } from './grafana-frontend.mjs';
import { check } from './panel-expectations.mjs';
import { screenshots } from './screenshots.mjs';

const api = process.env.MINEWATCH_API;
const dir = process.env.MINEWATCH_DASHBOARDS;
if (!api || !dir) {
  console.error('MINEWATCH_API and MINEWATCH_DASHBOARDS must be set (dashboards/grafana_test.go sets them)');
  process.exit(2);
}

const show = (r) => {
  if (r.errors.length) {
    return `ERROR ${r.errors.join('; ')}`;
  }
  if (r.values) {
    return r.values.map((v) => `${v.title ? v.title + '=' : ''}${v.text}${v.color ? ` (${v.color})` : ''}`).join(', ');
  }
  if (r.columns) {
    return `${r.rows} rows; ${r.columns.length}/${r.allColumns.length} columns shown: ${r.columns.join(' | ')}`;
  }
  if (r.states) {
    const at = (t) => new Date(t).toISOString().slice(5, 16);
    return r.states.map((row) => `${row.name}: ${row.bands.map((b) => `${b.text} ${at(b.from)}–${at(b.to)} (${b.color})`).join(', ')}`).join('; ');
  }
  if (r.numericFields) {
    const at = (t) => new Date(t).toISOString().slice(5, 16);
    const breaks = r.numericFields.filter((f) => f.gaps?.length).map((f) => `${f.name} broken ${f.gaps.map(([a, b]) => `${at(a)}–${at(b)}`).join(', ')}`);
    return `${r.numericFields.length} series, ${r.points} points: ${r.numericFields.map((f) => f.name).slice(0, 12).join(' | ')}` +
      (breaks.length ? `; drawn with ${breaks.slice(0, 6).join(', ')}` : '');
  }
  return '';
};

const failures = [];
const results = {};
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const d = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  const range = timeRange(d);
  let vars;
  try {
    vars = await resolveVariables(api, d, range);
  } catch (e) {
    failures.push(`${d.uid}: variables: ${e.message}`);
    continue;
  }
  const dash = { uid: d.uid, name: path.basename(file, '.json'), title: d.title, range, vars, panels: {}, dashboard: d };
  results[d.uid] = dash;
  console.log(`\n== ${d.uid} ${d.title}: ${range.from.toISOString()} – ${range.to.toISOString()}; ` +
    Object.entries(vars).map(([k, v]) => `$${k}=${[v.value].flat().join(',')}`).join(' '));
  for (const { panel, widthPx } of panelsOf(d)) {
    const r = await runPanel(api, d, panel, range, vars, widthPx);
    dash.panels[panel.title] = r;
    console.log(`  [${panel.type}] ${panel.title}: ${show(r)}`);
  }
}
failures.push(...check(results));
// MINEWATCH_SCREENSHOTS=DIR: every dashboard drawn with @grafana/ui from the same frames.
if (process.env.MINEWATCH_SCREENSHOTS) {
  const shown = Object.values(results).map((r) => ({
    dashboard: r.dashboard,
    name: r.name,
    kiosk: r.uid === 'minewatch-wall', // the wall screen runs in kiosk mode (no Grafana chrome)
    range: { from: r.range.from.valueOf(), to: r.range.to.valueOf(), raw: r.range.raw },
    vars: Object.fromEntries(Object.entries(r.vars).map(([k, v]) => [k, { text: v.text, value: v.value }])),
    panels: Object.values(r.panels).map((p) => ({ panel: p.panel, rawJSON: p.rawJSON, errors: p.errors, range: { from: p.range.from.valueOf(), to: p.range.to.valueOf(), raw: p.range.raw } })),
  }));
  for (const f of await screenshots(process.env.MINEWATCH_SCREENSHOTS, shown)) {
    console.log(`picture: ${f}`);
  }
}
if (failures.length) {
  console.log(`\n${failures.length} failed checks:`);
  for (const f of failures) {
    console.log(`  FAIL ${f}`);
  }
  process.exit(1);
}
console.log(`\nall panels show what they are meant to (${Object.values(results).reduce((n, d) => n + Object.keys(d.panels).length, 0)} panels)`);
