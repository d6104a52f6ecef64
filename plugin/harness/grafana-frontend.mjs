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
import { firstValueFrom } from 'rxjs';

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
// @grafana/data reads window.grafanaBootData (feature toggles) in its matchers.
globalThis.window ??= globalThis;
// The browser's locale, for @grafana/data's local date formats (Node 20 has no navigator).
globalThis.navigator ??= { language: 'zh-CN', languages: ['zh-CN'] };

const require = createRequire(import.meta.url);
export const g = require('@grafana/data');

export const theme = g.createTheme({ colors: { mode: 'dark' } });

// The field config items Grafana registers for every panel (standard options; the processors
// are @grafana/data's own), plus the table panel's custom options (public/app/plugins/panel/
// table/module.tsx: hidden, width, minWidth, align, cellOptions, inspect, filterable). Options
// a panel does not register are ignored by applyFieldOverrides, as in Grafana.
const item = (id, process, defaultValue, isCustom = false) => ({
  id,
  path: isCustom ? id.slice('custom.'.length) : id,
  name: id,
  isCustom,
  process,
  defaultValue,
  shouldApply: () => true,
  settings: {},
  override: () => null,
  editor: () => null,
});
const standard = [
  item('unit', g.unitOverrideProcessor),
  item('min', g.numberOverrideProcessor),
  item('max', g.numberOverrideProcessor),
  item('decimals', g.numberOverrideProcessor),
  item('displayName', g.displayNameOverrideProcessor),
  item('noValue', g.stringOverrideProcessor),
  item('links', g.dataLinksOverrideProcessor),
  item('mappings', g.valueMappingsOverrideProcessor),
  item('thresholds', g.thresholdsOverrideProcessor, {
    mode: g.ThresholdsMode.Absolute,
    steps: [
      { value: -Infinity, color: 'green' },
      { value: 80, color: 'red' },
    ],
  }),
  item('color', g.identityOverrideProcessor, { mode: g.FieldColorModeId.Thresholds }),
  item('filterable', g.booleanOverrideProcessor),
];
const tableCustom = ['custom.width', 'custom.minWidth'].map((id) => item(id, g.numberOverrideProcessor, undefined, true));
tableCustom.push(
  item('custom.hidden', g.booleanOverrideProcessor, undefined, true),
  item('custom.filterable', g.booleanOverrideProcessor, undefined, true),
  item('custom.inspect', g.booleanOverrideProcessor, undefined, true),
  item('custom.align', g.identityOverrideProcessor, 'auto', true),
  item('custom.cellOptions', g.identityOverrideProcessor, { type: 'auto' }, true)
);
export function fieldConfigRegistry(panelType) {
  return new g.FieldConfigOptionsRegistry(() => (panelType === 'table' ? [...standard, ...tableCustom] : standard));
}

// The transformers Grafana registers (it adds editors in public/app; the functions are these).
// Some are exported under two names (seriesToColumns is joinByField): one entry per id.
g.standardTransformersRegistry.setInit(() => [
  ...new Map(Object.values(g.standardTransformers).map((t) => [t.id, { id: t.id, name: t.name, transformation: t, editor: () => null }])).values(),
]);

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

/** Plain $name / ${name} substitution of variable values (the template service's default format). */
export function interpolate(text, vars) {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a, b) => {
    const v = vars[a ?? b];
    return v === undefined ? m : String(Array.isArray(v.value) ? v.value.join(',') : v.value);
  });
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
    const q = applyTemplateVariables({ ...v.query, refId: v.query?.refId ?? `var-${v.name}` }, vars);
    const res = (await dsQuery(api, range, [{ ...q, datasource: v.datasource, intervalMs: 60000, maxDataPoints: 1000 }]))[q.refId];
    if (res?.error) {
      throw new Error(`${d.uid}: variable ${v.name}: ${res.error}`);
    }
    const f = res.frames[0];
    const col = (n) => f?.fields.find((x) => x.name === n)?.values ?? [];
    const texts = col('text');
    const values = col('value').length ? col('value') : texts;
    const options = values.map((value, i) => ({ value, text: texts[i] ?? value }));
    const cur = v.current?.value;
    let chosen = options.find((o) => o.value === cur) ?? options[0];
    if (v.includeAll && (!cur || cur === '$__all' || (Array.isArray(cur) && cur.includes('$__all')))) {
      chosen = { text: 'All', value: options.map((o) => o.value) };
    }
    vars[v.name] = { ...(chosen ?? { text: '', value: '' }), options };
  }
  return vars;
}

/** Runs one panel as Grafana does and returns its processed frames and what it displays. */
export async function runPanel(api, d, p, range, vars, widthPx) {
  const targets = (p.targets ?? []).filter((t) => !t.hide && (t.queryType !== 'metricsql' || t.expr));
  const maxDataPoints = p.maxDataPoints ?? Math.round(widthPx);
  const { intervalMs } = g.rangeUtil.calculateInterval(range, maxDataPoints, p.interval);
  const queries = targets.map((t) => ({ ...applyTemplateVariables(t, vars), datasource: t.datasource ?? p.datasource, intervalMs, maxDataPoints }));
  const res = queries.length ? await dsQuery(api, range, queries) : {};
  const errors = Object.entries(res)
    .filter(([, r]) => r.error)
    .map(([refId, r]) => `${refId}: ${r.error}`);
  const raw = Object.values(res).flatMap((r) => r.frames);
  const transformed = p.transformations?.length
    ? await firstValueFrom(g.transformDataFrame(p.transformations, raw, { interpolate: (s) => interpolate(s, vars) }))
    : raw;
  const replaceVariables = (s) => interpolate(s, vars);
  const series = g.applyFieldOverrides({
    data: transformed,
    fieldConfig: p.fieldConfig ?? { defaults: {}, overrides: [] },
    fieldConfigRegistry: fieldConfigRegistry(p.type),
    replaceVariables,
    theme,
    timeZone: d.timezone,
  });
  const out = { panel: p, type: p.type, title: p.title, errors, series };
  if (['stat', 'gauge', 'bargauge'].includes(p.type)) {
    const reduceOptions = p.options?.reduceOptions ?? { calcs: ['lastNotNull'], values: false, fields: '' };
    out.values = g
      .getFieldDisplayValues({ data: series, reduceOptions, fieldConfig: p.fieldConfig, replaceVariables, theme, timeZone: d.timezone })
      .map((v) => ({ title: v.display.title, text: g.formattedValueToString(v.display), numeric: v.display.numeric, color: v.display.color }));
  }
  if (p.type === 'table') {
    const f = series[0];
    out.columns = f ? f.fields.filter((x) => !x.config.custom?.hidden).map((x) => g.getFieldDisplayName(x, f, series)) : [];
    out.allColumns = f ? f.fields.map((x) => g.getFieldDisplayName(x, f, series)) : [];
    out.rows = f ? f.length : 0;
    out.cell = (col, row) => {
      const x = f.fields.find((y) => g.getFieldDisplayName(y, f, series) === col);
      return x ? g.formattedValueToString(x.display(x.values[row])) : undefined;
    };
    out.column = (col) => {
      const x = f?.fields.find((y) => g.getFieldDisplayName(y, f, series) === col);
      return x ? x.values.map((v) => g.formattedValueToString(x.display(v))) : undefined;
    };
  }
  if (['timeseries', 'state-timeline', 'barchart'].includes(p.type)) {
    out.numericFields = series.flatMap((f) =>
      f.fields.filter((x) => x.type === g.FieldType.number).map((x) => ({ name: g.getFieldDisplayName(x, f, series), points: x.values.length }))
    );
    out.points = out.numericFields.reduce((n, x) => n + x.points, 0);
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
