// What Grafana does with a panel's query answer, given @grafana/data as `g` (Node's in the
// harness, the browser bundle's in the screenshots): the panel's transformations, field config
// defaults and overrides, and the reduce options of stat, gauge and bar gauge panels. Shared by
// grafana-frontend.mjs (assertions) and dashboard-shell.jsx (pictures), so both see the same.
import { firstValueFrom } from 'rxjs';

/** Plain $name / ${name} substitution of variable values (the template service's default format). */
export function interpolate(text, vars) {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a, b) => {
    const v = vars[a ?? b];
    return v === undefined ? m : String(Array.isArray(v.value) ? v.value.join(',') : v.value);
  });
}

// Grafana's variable syntax: $name, [[name:format]], ${name.fieldPath:format}.
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

// A value as the format asks: raw as it is; uriencode / percentencode (what a data link's URL
// gets unless the link names its own format) encoded as a URI component; anything else plain.
function formatValue(v, format) {
  const s = Array.isArray(v) ? v.join(',') : String(v);
  if (format === 'uriencode' || format === 'percentencode') {
    return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  }
  return s;
}

/**
 * The replaceVariables Grafana gives a panel's field config, data links included: dashboard
 * variables, and with a data context (scopedVars.__dataContext, which @grafana/data's
 * getLinksSupplier sets for a cell) the row macros ${__data.fields.<name>} (the cell of that field
 * in the same row, through @grafana/data's getFieldDisplayValuesProxy: by name, index or display
 * name, shown through the field's display processor) and ${__value.raw|text}; ${__url_time_range}
 * is the panel's range. The format named in the expression wins over the caller's (a data link
 * asks uriencode). An expression that cannot be resolved stays as it is, as Grafana's scenes
 * interpolation leaves it (a macro without its data context, an unknown name). Written after
 * @grafana/scenes' sceneInterpolator and its DataMacro / ValueMacro (packages/scenes/src/variables).
 */
export function panelReplacer(g, vars, range) {
  return (text, scopedVars, format) => {
    if (typeof text !== 'string') {
      return text ?? '';
    }
    return text.replace(VARIABLE, (match, v1, v2, f2, v3, fieldPath, f3) => {
      const name = v1 ?? v2 ?? v3;
      const fmt = f2 ?? f3 ?? format;
      const ctx = scopedVars?.__dataContext?.value;
      if (name === '__data') {
        if (!ctx || ctx.rowIndex === undefined || !fieldPath?.startsWith('fields.')) {
          return match;
        }
        const [fieldName, ...rest] = fieldPath.slice('fields.'.length).split('.');
        const disp = g.getFieldDisplayValuesProxy({ frame: ctx.frame, rowIndex: ctx.rowIndex })[fieldName];
        const v = rest.length ? rest.reduce((o, k) => o?.[k], disp) : disp;
        return v === undefined || v === null ? '' : formatValue(`${v}`, fmt);
      }
      if (name === '__value') {
        if (!ctx || ctx.rowIndex === undefined || !ctx.field) {
          return match;
        }
        const raw = ctx.field.values[ctx.rowIndex];
        const v = fieldPath === 'raw' ? raw : g.formattedValueToString(ctx.field.display ? ctx.field.display(raw) : { text: String(raw) });
        return v === undefined || v === null ? '' : formatValue(v, fmt);
      }
      if (name === '__url_time_range') {
        return range ? `from=${range.from.valueOf()}&to=${range.to.valueOf()}` : match;
      }
      const v = vars[name];
      return v === undefined ? match : formatValue(v.value, fmt);
    });
  };
}

/**
 * The links of a table cell as Grafana 12's table draws them: the field's data links for that row
 * (field.getLinks, @grafana/data's getLinksSupplier), without those whose URL came out empty
 * (12.4's getCellLinks keeps a link only with an href or an onClick; a cell without links is
 * plain text). Grafana 11.6's table keeps them: there such a cell is still drawn as a link, to
 * the page itself (href ""). Returns the hrefs.
 */
export function cellLinks(field, rowIndex, grafanaMajor) {
  const links = field.getLinks?.({ valueRowIndex: rowIndex }) ?? [];
  return (grafanaMajor >= 12 ? links.filter((l) => l.href || l.onClick) : links).map((l) => l.href);
}

// The field config items Grafana registers for every panel (standard options; the processors are
// @grafana/data's own), plus the table panel's custom options (public/app/plugins/panel/table/
// module.tsx: hidden, width, minWidth, align, cellOptions, inspect, filterable). Options a panel
// does not register are ignored by applyFieldOverrides, as in Grafana.
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

export function fieldConfigRegistry(g, panelType) {
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
        { value: null, color: 'green' },
        { value: 80, color: 'red' },
      ],
    }),
    // Each panel plugin's own default colour scheme (its standardOptions in Grafana's app).
    item('color', g.identityOverrideProcessor, {
      mode: ['timeseries', 'barchart'].includes(panelType)
        ? g.FieldColorModeId.PaletteClassic
        : panelType === 'state-timeline'
          ? 'continuous-GrYlRd'
          : g.FieldColorModeId.Thresholds,
    }),
    item('filterable', g.booleanOverrideProcessor),
  ];
  if (panelType !== 'table') {
    // Graph panels' custom options (line width, fill, ...) only change the drawing: passed through.
    return new g.FieldConfigOptionsRegistry(() => [
      ...standard,
      ...['lineWidth', 'fillOpacity', 'drawStyle', 'lineInterpolation', 'showPoints', 'pointSize', 'stacking', 'axisPlacement', 'hideFrom', 'gradientMode', 'spanNulls', 'barAlignment', 'axisSoftMin', 'axisLabel']
        .map((k) => item(`custom.${k}`, g.identityOverrideProcessor, undefined, true)),
    ]);
  }
  return new g.FieldConfigOptionsRegistry(() => [
    ...standard,
    item('custom.width', g.numberOverrideProcessor, undefined, true),
    item('custom.minWidth', g.numberOverrideProcessor, 150, true),
    item('custom.hidden', g.booleanOverrideProcessor, undefined, true),
    item('custom.filterable', g.booleanOverrideProcessor, undefined, true),
    item('custom.inspect', g.booleanOverrideProcessor, undefined, true),
    item('custom.align', g.identityOverrideProcessor, 'auto', true),
    item('custom.cellOptions', g.identityOverrideProcessor, { type: 'auto' }, true),
  ]);
}

/** Registers the standard transformers as Grafana's app does (it adds editors; the functions are these). */
export function setupRegistries(g) {
  // Some are exported under two names (seriesToColumns is joinByField): one entry per id.
  g.standardTransformersRegistry.setInit(() => [
    ...new Map(Object.values(g.standardTransformers).map((t) => [t.id, { id: t.id, name: t.name, transformation: t, editor: () => null }])).values(),
  ]);
}

/**
 * The panel's field config with its plugin's defaults filled in where the dashboard sets nothing,
 * as Grafana does when it loads a panel (getPanelOptionsWithDefaults): the registry's defaultValue.
 */
export function withPluginDefaults(g, p) {
  const fc = JSON.parse(JSON.stringify(p.fieldConfig ?? { defaults: {}, overrides: [] }));
  fc.defaults ??= {};
  fc.overrides ??= [];
  for (const it of fieldConfigRegistry(g, p.type).list()) {
    if (it.defaultValue === undefined) {
      continue;
    }
    const dest = it.isCustom ? (fc.defaults.custom ??= {}) : fc.defaults;
    if (dest[it.path] === undefined) {
      dest[it.path] = JSON.parse(JSON.stringify(it.defaultValue));
    }
  }
  return fc;
}

/**
 * The frames a time series or state timeline panel draws from its series: where two points lie
 * more than the time field's interval apart (config.interval, which the datasource sets to the
 * query's step, as Grafana's Prometheus datasource does), and before the first and after the last
 * point up to the panel's time range, nulls are inserted, then null-valued mappings applied:
 * @grafana/data's own applyNullInsertThreshold and nullToValue (published in 11 and 12), called
 * as Grafana's panels call them before drawing (prepareGraphableFields of the time series panel,
 * prepareTimelineFields of the state timeline, in Grafana's app code). Without an interval the
 * frames are drawn as they are.
 */
export function drawnFrames(g, series, range) {
  return series.map((frame) => g.nullToValue(g.applyNullInsertThreshold({ frame, refFieldPseudoMin: range.from.valueOf(), refFieldPseudoMax: range.to.valueOf() })));
}

/**
 * The gaps of a drawn field: [from, to] of each run of nulls between two values (the times of the
 * values either side), i.e. where the panel's line breaks; nulls before the first or after the
 * last value are not gaps but the ends of the line.
 */
export function gapsOf(g, frame, field) {
  const time = frame.fields.find((x) => x.type === g.FieldType.time);
  const vals = field?.values ?? [];
  const gaps = [];
  let last = -1;
  for (let i = 0; i < vals.length; i++) {
    if (vals[i] === null || vals[i] === undefined) {
      continue;
    }
    if (last >= 0 && i > last + 1) {
      gaps.push([time.values[last], time.values[i]]);
    }
    last = i;
  }
  return gaps;
}

/** The processed frames of a panel over range (its time range) and what it displays. */
export async function processPanel(g, theme, d, p, raw, vars, range, grafanaMajor = 11) {
  const fieldConfig = withPluginDefaults(g, p);
  const replaceVariables = panelReplacer(g, vars, range);
  const transformed = p.transformations?.length
    ? await firstValueFrom(g.transformDataFrame(p.transformations, raw, { interpolate: replaceVariables }))
    : raw;
  const series = g.applyFieldOverrides({
    data: transformed,
    fieldConfig,
    fieldConfigRegistry: fieldConfigRegistry(g, p.type),
    replaceVariables,
    theme,
    timeZone: d.timezone,
  });
  const out = { panel: p, type: p.type, title: p.title, series, raw }; // raw: the frames before the panel's transformations
  if (['stat', 'gauge', 'bargauge'].includes(p.type)) {
    const reduceOptions = p.options?.reduceOptions ?? { calcs: ['lastNotNull'], values: false, fields: '' };
    out.display = g.getFieldDisplayValues({ data: series, reduceOptions, fieldConfig, replaceVariables, theme, timeZone: d.timezone });
    out.values = out.display.map((v) => ({ title: v.display.title, text: g.formattedValueToString(v.display), numeric: v.display.numeric, color: v.display.color }));
  }
  if (p.type === 'table') {
    const f = series[0];
    const name = (x) => g.getFieldDisplayName(x, f, series);
    out.columns = f ? f.fields.filter((x) => !x.config.custom?.hidden).map(name) : [];
    out.allColumns = f ? f.fields.map(name) : [];
    out.rows = f ? f.length : 0;
    // Per row, the hrefs of the column's cell links, as the table draws them (cellLinks).
    out.links = (col) => {
      const x = f?.fields.find((y) => name(y) === col);
      return x ? x.values.map((_, i) => cellLinks(x, i, grafanaMajor)) : undefined;
    };
    out.column = (col) => {
      const x = f?.fields.find((y) => name(y) === col);
      return x ? x.values.map((v) => g.formattedValueToString(x.display(v))) : undefined;
    };
  }
  if (['timeseries', 'state-timeline'].includes(p.type)) {
    out.drawn = drawnFrames(g, series, range);
  }
  if (['timeseries', 'state-timeline', 'barchart'].includes(p.type)) {
    out.numericFields = series.flatMap((f, i) =>
      f.fields
        .filter((x) => x.type === g.FieldType.number)
        .map((x) => {
          const drawn = out.drawn?.[i];
          return { name: g.getFieldDisplayName(x, f, series), points: x.values.length, gaps: drawn && gapsOf(g, drawn, drawn.fields[f.fields.indexOf(x)]) };
        })
    );
    out.points = out.numericFields.reduce((n, x) => n + x.points, 0);
  }
  return out;
}

/**
 * The rows and bands of a state timeline as Grafana's state-timeline panel lays them out (mode
 * "changes"): one row per value field, named by its display name; a band from each value's time
 * to the next change, the last one to the end of the range; a null ends a band and starts none.
 * With mergeValues (the panel's default) equal neighbours are one band, and so are neighbours in
 * the same threshold step when the colour mode is thresholds. The bands come from the frames the
 * panel draws (drawnFrames: a gap longer than the interval is a null, so a series that stops ends
 * its band there). Text and colour are the field's display
 * processor's (value mappings, thresholds); the fill is that colour at the field's fill opacity
 * (the panel's default 70 %).
 */
export function stateTimelineRows(g, r, range) {
  const merge = r.panel.options?.mergeValues ?? true;
  const to = range.to.valueOf();
  const rows = [];
  for (const frame of r.drawn) {
    const time = frame.fields.find((x) => x.type === g.FieldType.time);
    if (!time) {
      continue;
    }
    for (const x of frame.fields) {
      if (![g.FieldType.number, g.FieldType.string, g.FieldType.boolean, g.FieldType.enum].includes(x.type)) {
        continue;
      }
      const steps = x.config.thresholds?.steps;
      const byStep = merge && x.config.color?.mode === g.FieldColorModeId.Thresholds && steps?.length;
      const key = (v) => (byStep && typeof v === 'number' ? g.getActiveThreshold(v, steps) : v);
      const opacity = (x.config.custom?.fillOpacity ?? 70) / 100;
      const bands = [];
      const vals = x.values;
      for (let i = 0; i < vals.length; i++) {
        const v = vals[i];
        if (v === null || v === undefined) {
          continue;
        }
        let j = i + 1;
        while (j < vals.length && (vals[j] === undefined || (merge && vals[j] !== null && key(vals[j]) === key(v)))) {
          j++;
        }
        const d = x.display(v);
        const color = d.color ?? g.FALLBACK_COLOR;
        bands.push({ from: time.values[i], to: j < vals.length ? time.values[j] : to, text: g.formattedValueToString(d), color, fill: g.colorManipulator.alpha(color, opacity) });
        i = j - 1;
      }
      rows.push({ name: g.getFieldDisplayName(x, frame, r.drawn), bands });
    }
  }
  return rows;
}
