// Grafana's frontend for the panel harness, in Node with the real @grafana/data (the version the
// plugin builds against): time ranges through dateMath with the dashboard's time zone and week
// start, variables through the datasource's variable query, the panel's queries posted to
// /api/ds/query, then what PanelQueryRunner and the panels do with the answer: DataFrames from
// the frame JSON, the panel's transformations (transformDataFrame with the standard
// transformers), field config defaults and overrides (applyFieldOverrides), reduce options
// (getFieldDisplayValues). Nothing here decides what a panel shows: @grafana/data does.
//
// The clock: MINEWATCH_NOW (epoch ms) is "now" for dateMath, fixed before moment loads.
import { createRequire } from 'node:module';
import path from 'node:path';
import { majors } from './harness.mjs';

const NOW = Number(process.env.MINEWATCH_NOW ?? Date.now());
const RealDate = Date;
class HarnessDate extends RealDate {
  constructor(...a) {
    if (a.length === 0) {
      super(NOW);
    } else {
      super(...a);
    }
  }
  static now() {
    return NOW;
  }
}
globalThis.Date = HarnessDate;
// A DOM for what @grafana/data loads with it (12 pulls in react-use, whose CSS helper wants a
// document at load time) and for window.grafanaBootData (feature toggles) read by its matchers:
// jsdom, which the plugin's jest tests use too.
const { JSDOM } = createRequire(import.meta.url)('jsdom');
const dom = new JSDOM('<!doctype html><html lang="zh-CN"><body></body></html>', { url: 'http://127.0.0.1/' });
globalThis.window ??= dom.window;
for (const k of ['document', 'location', 'history', 'localStorage', 'sessionStorage', 'HTMLElement', 'Element', 'Node', 'getComputedStyle']) {
  globalThis[k] ??= dom.window[k];
}
// The browser's locale, for @grafana/data's local date formats (Node 20 has no navigator).
globalThis.navigator ??= { language: 'zh-CN', languages: ['zh-CN'], userAgent: 'node' };

// MINEWATCH_GRAFANA_MAJOR picks whose @grafana/data plays the frontend: 11 (what the plugin builds
// against, ../package.json) or 12 (harness/grafana-12). Both are claimed by plugin.json.
export const major = Number(process.env.MINEWATCH_GRAFANA_MAJOR ?? 11);
const require = createRequire(path.join(majors[major] ?? majors[11], 'package.json'));
if (!majors[major]) {
  throw new Error(`MINEWATCH_GRAFANA_MAJOR=${major}: the harness knows Grafana ${Object.keys(majors).join(', ')}`);
}
export const g = require('@grafana/data');

export const theme = g.createTheme({ colors: { mode: 'dark' } });

import { interpolate, processPanel, setupRegistries, stateTimelineRows } from './panel-data.mjs';

setupRegistries(g);

/** Posts to /api/ds/query as Grafana's frontend does; returns {refId: {frames, error}}. */
export async function dsQuery(api, range, queries) {
  const body = { from: String(range.from.valueOf()), to: String(range.to.valueOf()), queries };
  const res = await fetch(`${api}/api/ds/query`, { method: 'POST', body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(`/api/ds/query ${res.status}: ${text}`);
  }
  const out = {};
  for (const [refId, r] of Object.entries(JSON.parse(text).results ?? {})) {
    out[refId] = {
      error: r.error,
      json: (r.frames ?? []).map((f) => ({ ...f, schema: { ...f.schema, refId } })),
      frames: (r.frames ?? []).map((f) => {
        const df = g.dataFrameFromJSON(f);
        df.refId = refId;
        return df;
      }),
    };
  }
  return out;
}

/** The dashboard's time range, as Grafana's TimeSrv resolves it. */
export function timeRange(d) {
  g.setWeekStart(d.weekStart || undefined);
  const tz = d.timezone || 'browser';
  const raw = { from: d.time.from, to: d.time.to };
  return { from: g.dateMath.parse(raw.from, false, tz), to: g.dateMath.parse(raw.to, true, tz), raw };
}

const expandList = (list, vars) =>
  list?.flatMap((x) => {
    const m = /^\$\{?(\w+)\}?$/.exec(x);
    const v = m && vars[m[1]];
    return v ? [v.value].flat() : [interpolate(x, vars)];
  });

/** What the plugin's applyTemplateVariables does to a query (plugin/src/datasource.ts). */
export function applyTemplateVariables(q, vars) {
  return {
    ...q,
    units: expandList(q.units, vars),
    sectors: expandList(q.sectors, vars),
    districts: expandList(q.districts, vars),
    week: q.week ? interpolate(q.week, vars) : q.week,
    expr: q.expr ? interpolate(q.expr, vars) : q.expr,
  };
}

// Query variables run as a query of the datasource ({queryType: 'variable', variableKind}, the
// shape of plugin/src/types.ts) over the dashboard's time range, as Grafana runs a datasource's
// variable support. MINEWATCH_VARIABLES=resource asks the variables resource instead, without the
// range, as the frontend's metricFindQuery did before the datasource had variable support.
const variablesThroughResource = process.env.MINEWATCH_VARIABLES === 'resource';

/**
 * Resolves the dashboard's variables in order: constants, custom lists, and the datasource's
 * query variables run as queries over the dashboard's time range; the saved current value if it
 * is an option, else the first option (Grafana's rule for a variable without a valid current).
 */
export async function resolveVariables(api, d, range) {
  const vars = {};
  for (const v of d.templating?.list ?? []) {
    if (v.type === 'constant') {
      vars[v.name] = { text: v.query, value: v.query, options: [v.query] };
      continue;
    }
    if (v.type !== 'query') {
      throw new Error(`${d.uid}: variable ${v.name} of type ${v.type} not handled by the harness`);
    }
    let options;
    if (variablesThroughResource) {
      // What plugin/src/datasource.ts's metricFindQuery does today: the variables resource,
      // without the dashboard's time range.
      const res = await fetch(`${api}/api/datasources/uid/${v.datasource.uid}/resources/variables?kind=${v.query.variableKind}`);
      if (!res.ok) {
        throw new Error(`${d.uid}: variable ${v.name}: ${res.status} ${await res.text()}`);
      }
      options = (await res.json()).map((o) => ({ value: o.value ?? o.text, text: o.text }));
    } else {
      const q = applyTemplateVariables({ ...v.query, refId: v.query?.refId ?? `var-${v.name}` }, vars);
      const res = (await dsQuery(api, range, [{ ...q, datasource: v.datasource, intervalMs: 60000, maxDataPoints: 1000 }]))[q.refId];
      if (res?.error) {
        throw new Error(`${d.uid}: variable ${v.name}: ${res.error}`);
      }
      const f = res.frames[0];
      const col = (n) => f?.fields.find((x) => x.name === n)?.values ?? [];
      const texts = col('text');
      const values = col('value').length ? col('value') : texts;
      options = values.map((value, i) => ({ value, text: texts[i] ?? value }));
    }
    const cur = v.current?.value;
    let chosen = options.find((o) => o.value === cur) ?? options[0];
    if (v.includeAll && (!cur || cur === '$__all' || (Array.isArray(cur) && cur.includes('$__all')))) {
      chosen = { text: 'All', value: options.map((o) => o.value) };
    }
    vars[v.name] = { ...(chosen ?? { text: '', value: '' }), options };
  }
  return vars;
}

/**
 * A panel's own relative time ("Relative time" in the panel editor, panel.timeFrom, e.g. "84d" or "1h"),
 * as Grafana's applyPanelTimeOverrides applies it: when the dashboard's range is relative, the panel
 * queries now-<timeFrom> to now instead. (That function is in Grafana's app code, not in a published
 * package; @grafana/data's rangeUtil and dateMath do the parsing as there.)
 */
export function panelRange(d, p, range, vars) {
  if (!p.timeFrom || typeof range.raw.from !== 'string') {
    return range;
  }
  const info = g.rangeUtil.describeTextRange(interpolate(p.timeFrom, vars));
  if (info.invalid) {
    throw new Error(`panel "${p.title}": invalid timeFrom ${JSON.stringify(p.timeFrom)}`);
  }
  const tz = d.timezone || 'browser';
  return { from: g.dateMath.parse(info.from, false, tz), to: g.dateMath.parse(info.to, true, tz), raw: { from: info.from, to: info.to } };
}

/** Runs one panel as Grafana does and returns its processed frames and what it displays. */
export async function runPanel(api, d, p, dashRange, vars, widthPx) {
  const range = panelRange(d, p, dashRange, vars);
  const targets = (p.targets ?? []).filter((t) => !t.hide && (t.queryType !== 'metricsql' || t.expr));
  const maxDataPoints = p.maxDataPoints ?? Math.round(widthPx);
  // Grafana's lower limit of the interval: the panel's min interval, else the datasource's
  // (its jsonData.timeInterval, the scrape interval; MINEWATCH_DS_INTERVAL here).
  const { intervalMs } = g.rangeUtil.calculateInterval(range, maxDataPoints, p.interval || process.env.MINEWATCH_DS_INTERVAL || undefined);
  const queries = targets.map((t) => ({ ...applyTemplateVariables(t, vars), datasource: t.datasource ?? p.datasource, intervalMs, maxDataPoints }));
  const res = queries.length ? await dsQuery(api, range, queries) : {};
  const errors = Object.entries(res)
    .filter(([, r]) => r.error)
    .map(([refId, r]) => `${refId}: ${r.error}`);
  const raw = Object.values(res).flatMap((r) => r.frames);
  const out = await processPanel(g, theme, d, p, raw, vars, range, major);
  out.widthPx = widthPx;
  out.errors = errors;
  out.rawJSON = Object.values(res).flatMap((r) => r.json);
  out.range = range;
  if (p.type === 'state-timeline') {
    out.states = stateTimelineRows(g, out, range);
  }
  return out;
}

/** Every panel of a dashboard, rows' collapsed panels included, with its pixel width at 1920. */
export function panelsOf(d, viewport = 1920) {
  const all = [];
  const walk = (ps) => {
    for (const p of ps ?? []) {
      if (p.type === 'row') {
        walk(p.panels);
        continue;
      }
      all.push(p);
    }
  };
  walk(d.panels);
  return all.map((p) => ({ panel: p, widthPx: ((p.gridPos?.w ?? 24) / 24) * viewport }));
}
