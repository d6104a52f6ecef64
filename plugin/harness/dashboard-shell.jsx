// The screenshots' browser side: one dashboard laid out on Grafana's grid (24 columns, 30 px rows,
// 8 px gaps) at 1920 px, every panel in @grafana/ui's PanelChrome and drawn by @grafana/ui's own
// visualisation components with the frames the backend answered, processed by @grafana/data
// exactly as the assertions process them (panel-data.mjs). What Grafana's panel plugins add on
// top (they live in Grafana's app, not in a published package) is approximated:
// - stat: BigValue per display value, with the panel's colour, justify and text modes;
// - bar gauge: BarGauge per display value, stacked;
// - table: Table (hidden columns, cell options, mappings, sorting as the panel sets them);
// - time series and state timeline: TimeSeries (the state timeline drawn as a stepped series);
// - bar chart: one BarGauge row per category and measure (@grafana/ui has no bar chart component).
import * as g from '@grafana/data';
import { BarGauge, BigValue, GlobalStyles, PanelChrome, Table, ThemeContext, TimeSeries, VizRepeater } from '@grafana/ui';
import React from 'react';
import { createRoot } from 'react-dom/client';
import { processPanel, setupRegistries } from './panel-data.mjs';

const CELL = 30;
const GAP = 8;

setupRegistries(g);

function Stat({ r, width, height }) {
  const o = r.panel.options ?? {};
  const values = r.display ?? [];
  const w = Math.floor(width / Math.max(values.length, 1));
  return (
    <div style={{ display: 'flex' }}>
      {values.map((v, i) => (
        <BigValue
          key={i}
          theme={window.__theme}
          value={v.display}
          width={w}
          height={height}
          colorMode={o.colorMode ?? 'value'}
          graphMode="none"
          justifyMode={o.justifyMode ?? 'auto'}
          textMode={o.textMode ?? 'auto'}
          text={o.text}
        />
      ))}
    </div>
  );
}

// As Grafana's bar gauge panel: VizRepeater lays the values out, names aligned across bars.
function Bars({ values, width, height, o }) {
  return (
    <VizRepeater
      source={values}
      getValues={() => values}
      getAlignmentFactors={g.getDisplayValueAlignmentFactors}
      renderValue={({ value, width: w, height: h, alignmentFactors }) => (
        <BarGauge
          theme={window.__theme}
          value={value.display}
          field={value.field}
          width={w}
          height={h}
          orientation={g.VizOrientation.Horizontal}
          displayMode={o.displayMode ?? 'basic'}
          showUnfilled={o.showUnfilled ?? true}
          valueDisplayMode={o.valueMode}
          namePlacement={o.namePlacement ?? 'left'}
          text={o.text}
          alignmentFactors={alignmentFactors}
          itemSpacing={2}
        />
      )}
      width={width}
      height={height}
      minVizHeight={o.minVizHeight ?? 16}
      maxVizHeight={o.maxVizHeight ?? 300}
      itemSpacing={2}
      orientation={g.VizOrientation.Horizontal}
    />
  );
}

// A bar chart's categories and measures as reduce-by-row display values.
function barChartValues(r) {
  const f = r.series[0];
  if (!f) {
    return [];
  }
  const cat = f.fields.find((x) => x.type === g.FieldType.string);
  const out = [];
  for (let i = 0; i < f.length; i++) {
    for (const x of f.fields.filter((y) => y.type === g.FieldType.number)) {
      const d = x.display(x.values[i]);
      out.push({ display: { ...d, title: `${cat ? cat.values[i] : i} · ${g.getFieldDisplayName(x, f, r.series)}` }, field: { ...x.config, ...x.state?.range } });
    }
  }
  return out;
}

function Viz({ r, d, width, height }) {
  if (r.errors.length) {
    return <div style={{ color: '#F2495C', padding: 8, fontSize: 12, overflow: 'hidden', height }}>{r.errors.join('\n')}</div>;
  }
  const o = r.panel.options ?? {};
  switch (r.type) {
    case 'stat':
      return <Stat r={r} width={width} height={height} />;
    case 'bargauge':
      return <Bars values={r.display ?? []} width={width} height={height} o={o} />;
    case 'barchart':
      return <Bars values={barChartValues(r)} width={width} height={height} o={{ displayMode: 'gradient', showUnfilled: true, namePlacement: 'left' }} />;
    case 'table': {
      const f = r.series[0];
      if (!f || f.length === 0) {
        return <div style={{ padding: 8, color: '#8e8e8e' }}>No data</div>;
      }
      return <Table data={f} width={width} height={height} cellHeight={o.cellHeight} initialSortBy={o.sortBy} showTypeIcons={false} footerOptions={o.footer} />;
    }
    case 'timeseries':
    case 'state-timeline': {
      const frames = r.series.filter((f) => f.fields.some((x) => x.type === g.FieldType.time) && f.length > 0);
      if (!frames.length) {
        return <div style={{ padding: 8, color: '#8e8e8e' }}>No data</div>;
      }
      const stepped =
        r.type === 'state-timeline'
          ? frames.map((f) => ({ ...f, fields: f.fields.map((x) => (x.type === g.FieldType.number ? { ...x, config: { ...x.config, custom: { ...x.config.custom, lineInterpolation: 'stepAfter', fillOpacity: 60, lineWidth: 1 } } } : x)) }))
          : frames;
      const legend = { showLegend: true, displayMode: 'list', placement: 'bottom', calcs: [], ...(o.legend ?? {}) };
      return <TimeSeries frames={stepped} width={width} height={height} timeRange={r.timeRange ?? window.__range} timeZone={d.timezone} legend={legend} options={o} replaceVariables={(s) => s} />;
    }
    default:
      return <div style={{ padding: 8 }}>{r.type}</div>;
  }
}

async function main() {
  const { dashboard: d, panels, range, vars, kiosk } = window.__dashboardData;
  const theme = g.createTheme({ colors: { mode: d.style === 'light' ? 'light' : 'dark' } });
  window.__theme = theme;
  g.setWeekStart(d.weekStart || undefined);
  window.__range = { from: g.dateTime(range.from), to: g.dateTime(range.to), raw: range.raw };
  const width = 1920;
  const col = (width - GAP) / 24;
  const top = kiosk ? GAP : 56;
  const results = [];
  for (const p of panels) {
    const raw = p.rawJSON.map((f) => {
      const df = g.dataFrameFromJSON(f);
      df.refId = f.schema?.refId;
      return df;
    });
    const r = await processPanel(g, theme, d, p.panel, raw, vars);
    r.errors = p.errors;
    // a panel with its own relative time (timeFrom) draws its axis over that range, as in Grafana
    r.timeRange = p.range ? { from: g.dateTime(p.range.from), to: g.dateTime(p.range.to), raw: p.range.raw } : window.__range;
    results.push(r);
  }
  const header = kiosk ? null : (
    <div style={{ height: 48, display: 'flex', alignItems: 'center', padding: '0 16px', borderBottom: `1px solid ${theme.colors.border.weak}`, fontSize: 18, gap: 24 }}>
      <span style={{ fontWeight: 500 }}>挖矿监测 / {d.title}</span>
      {Object.entries(vars).map(([k, v]) => (
        <span key={k} style={{ fontSize: 13, color: theme.colors.text.secondary }}>
          {(d.templating.list.find((x) => x.name === k)?.label ?? k) + ' '}
          <b style={{ color: theme.colors.text.primary }}>{[v.text].flat().join(', ')}</b>
        </span>
      ))}
      <span style={{ marginLeft: 'auto', fontSize: 13, color: theme.colors.text.secondary }}>
        {g.dateTimeFormat(range.from, { timeZone: d.timezone })} – {g.dateTimeFormat(range.to, { timeZone: d.timezone })} (北京时间)
      </span>
    </div>
  );
  const root = createRoot(document.getElementById('root'));
  root.render(
    <ThemeContext.Provider value={theme}>
      <GlobalStyles />
      <div style={{ position: 'relative', width, height: 1080, overflow: 'hidden', background: theme.colors.background.canvas }}>
        {header}
        {results.map((r, i) => {
          const gp = r.panel.gridPos;
          const left = GAP + gp.x * col;
          const w = gp.w * col - GAP;
          const h = gp.h * (CELL + GAP) - GAP;
          return (
            <div key={i} style={{ position: 'absolute', left, top: top + gp.y * (CELL + GAP), width: w, height: h }}>
              <PanelChrome title={r.panel.title} width={w} height={h}>
                {(iw, ih) => <Viz r={r} d={d} width={iw} height={ih} />}
              </PanelChrome>
            </div>
          );
        })}
      </div>
    </ThemeContext.Provider>
  );
  // uPlot and the table lay out after the first paint.
  await new Promise((res) => setTimeout(res, 1500));
  window.__rendered = true;
}

main().catch((e) => {
  window.__renderError = String(e && e.stack ? e.stack : e);
});
