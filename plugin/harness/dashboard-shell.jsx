// The screenshots' browser side: one dashboard laid out on Grafana's grid (24 columns, 30 px rows,
// 8 px gaps) at 1920 px, every panel in @grafana/ui's PanelChrome and drawn by @grafana/ui's own
// visualisation components with the frames the backend answered, processed by @grafana/data
// exactly as the assertions process them (panel-data.mjs). What Grafana's panel plugins add on
// top (they live in Grafana's app, not in a published package) is approximated:
// - stat: BigValue per display value, with the panel's colour, justify and text modes;
// - bar gauge: BarGauge per display value, stacked;
// - table: Table (hidden columns, cell options, mappings, sorting as the panel sets them);
// - time series: TimeSeries;
// - state timeline: coloured state bands, one row per field. @grafana/ui publishes the pieces
//   Grafana's TimelineChart is made of (GraphNG, UPlotConfigBuilder, VizLayout, VizLegend) but not
//   the timeline itself nor its band painter (public/app/core/components/TimelineChart in Grafana's
//   app, no npm package): GraphNG draws the time axis and the row names, and the harness paints
//   the bands of panel-data.mjs's stateTimelineRows (the same the assertions check) with a draw
//   hook of its own, minimal: no hover, no value text unless the panel shows values;
// - bar chart: one BarGauge row per category and measure (@grafana/ui has no bar chart component).
import * as g from '@grafana/data';
import {
  AxisPlacement,
  BarGauge,
  BigValue,
  GlobalStyles,
  GraphNG,
  PanelChrome,
  ScaleDirection,
  ScaleOrientation,
  Table,
  ThemeContext,
  TimeSeries,
  UPlotConfigBuilder,
  PointVisibility,
  VizLayout,
  VizLegend,
  VizRepeater,
} from '@grafana/ui';
import React from 'react';
import { createRoot } from 'react-dom/client';
import { processPanel, setupRegistries, stateTimelineRows } from './panel-data.mjs';

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

// The legend Grafana's state timeline shows: the threshold steps when the colour mode is
// thresholds, else each state's text and colour.
function stateLegend(r, rows, theme) {
  const x = r.series.flatMap((f) => f.fields).find((f) => f.type !== g.FieldType.time);
  const steps = x?.config.thresholds?.steps ?? [];
  if (x?.config.color?.mode === g.FieldColorModeId.Thresholds && steps.length > 1) {
    return steps.map((st, i) => ({
      label: i === 0 ? `< ${steps[1].value}` : `${st.value}+`,
      color: theme.visualization.getColorByName(st.color),
      yAxis: 1,
    }));
  }
  const seen = new Map(rows.flatMap((row) => row.bands.map((b) => [b.text, b.color])));
  return [...seen].map(([label, color]) => ({ label, color, yAxis: 1 }));
}

function StateTimeline({ r, d, width, height }) {
  const theme = window.__theme;
  const o = r.panel.options ?? {};
  const range = r.timeRange;
  const rows = stateTimelineRows(g, r, range);
  const n = Math.max(rows.length, 1);
  const rowHeight = o.rowHeight ?? 0.9;
  const isValue = (f) => [g.FieldType.number, g.FieldType.string, g.FieldType.boolean, g.FieldType.enum].includes(f.type);
  const frames = r.drawn.filter((f) => f.fields.some((x) => x.type === g.FieldType.time) && f.length > 0);
  const prepConfig = (frame) => {
    const b = new UPlotConfigBuilder(d.timezone);
    // uPlot only needs the times for its x scale and cursor; the bands are painted from rows.
    b.setPrepData((fs) => [fs[0].fields[0].values, ...fs[0].fields.slice(1).map((f) => f.values.map(() => null))]);
    b.addScale({ scaleKey: 'x', isTime: true, orientation: ScaleOrientation.Horizontal, direction: ScaleDirection.Right, range: () => [range.from.valueOf(), range.to.valueOf()] });
    b.addScale({ scaleKey: 'y', isTime: false, orientation: ScaleOrientation.Vertical, direction: ScaleDirection.Up, range: () => [0, 1] });
    b.addAxis({ scaleKey: 'x', isTime: true, placement: AxisPlacement.Bottom, timeZone: d.timezone, theme });
    // Rows top down, each named at its middle on the left axis.
    b.addAxis({
      scaleKey: 'y',
      placement: AxisPlacement.Left,
      splits: () => rows.map((_, i) => 1 - (i + 0.5) / n),
      values: (_, splits) => splits.map((_, i) => rows[i]?.name ?? ''),
      grid: { show: false },
      ticks: { show: false },
      gap: 16,
      theme,
    });
    for (let i = 1; i < frame.fields.length; i++) {
      b.addSeries({ scaleKey: 'y', pathBuilder: () => null, showPoints: PointVisibility.Never, lineWidth: 0, fillOpacity: 0, theme });
    }
    b.addHook('draw', (u) => {
      const { left, top, width: w, height: h } = u.bbox; // canvas pixels
      const ctx = u.ctx;
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, w, h);
      ctx.clip();
      ctx.font = `500 ${Math.round(12 * devicePixelRatio)}px ${theme.typography.fontFamily}`;
      ctx.textBaseline = 'middle';
      rows.forEach((row, i) => {
        const y0 = Math.round(top + (h * (i + (1 - rowHeight) / 2)) / n);
        const lh = Math.round((h * rowHeight) / n);
        for (const band of row.bands) {
          const x0 = Math.round(u.valToPos(band.from, 'x', true));
          const x1 = Math.round(u.valToPos(band.to, 'x', true));
          ctx.fillStyle = band.fill;
          ctx.fillRect(x0, y0, Math.max(1, x1 - x0), lh);
          if ((o.showValue ?? 'auto') !== 'never' && x1 - x0 > 24 * devicePixelRatio) {
            ctx.fillStyle = theme.colors.getContrastText(band.fill, 3);
            ctx.fillText(band.text, x0 + 4, y0 + lh / 2, x1 - x0 - 8);
          }
        }
      });
      ctx.restore();
    });
    return b;
  };
  const legend = { showLegend: true, displayMode: 'list', placement: 'bottom', ...(o.legend ?? {}) };
  const renderLegend = () =>
    legend.showLegend === false ? null : (
      <VizLayout.Legend placement={legend.placement}>
        <VizLegend placement={legend.placement} items={stateLegend(r, rows, theme)} displayMode={legend.displayMode} readonly />
      </VizLayout.Legend>
    );
  return (
    <GraphNG
      theme={theme}
      frames={frames}
      fields={{ x: (f) => f.type === g.FieldType.time, y: isValue }}
      prepConfig={prepConfig}
      renderLegend={renderLegend}
      width={width}
      height={height}
      timeRange={range}
      timeZone={d.timezone}
      legend={legend}
    />
  );
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
      // What the panel draws: nulls where the series has gaps (drawnFrames, as the panels prepare them).
      const frames = r.drawn.filter((f) => f.fields.some((x) => x.type === g.FieldType.time) && f.length > 0);
      if (!frames.length) {
        return <div style={{ padding: 8, color: '#8e8e8e' }}>No data</div>;
      }
      if (r.type === 'state-timeline') {
        return <StateTimeline r={r} d={d} width={width} height={height} />;
      }
      const legend = { showLegend: true, displayMode: 'list', placement: 'bottom', calcs: [], ...(o.legend ?? {}) };
      return <TimeSeries frames={frames} width={width} height={height} timeRange={r.timeRange ?? window.__range} timeZone={d.timezone} legend={legend} options={o} replaceVariables={(s) => s} />;
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
  // Outside kiosk mode Grafana's chrome takes about 120 px: its top bar (breadcrumbs, 40 px) and the
  // dashboard's controls (variables, time range), then the grid.
  const top = kiosk ? GAP : 120;
  const results = [];
  for (const p of panels) {
    const raw = p.rawJSON.map((f) => {
      const df = g.dataFrameFromJSON(f);
      df.refId = f.schema?.refId;
      return df;
    });
    // a panel with its own relative time (timeFrom) draws its axis over that range, as in Grafana
    const timeRange = p.range ? { from: g.dateTime(p.range.from), to: g.dateTime(p.range.to), raw: p.range.raw } : window.__range;
    const r = await processPanel(g, theme, d, p.panel, raw, vars, timeRange);
    r.errors = p.errors;
    r.timeRange = timeRange;
    results.push(r);
  }
  const header = kiosk ? null : (
    <>
      <div style={{ height: 40, display: 'flex', alignItems: 'center', padding: '0 16px', borderBottom: `1px solid ${theme.colors.border.weak}`, background: theme.colors.background.primary, fontSize: 14, gap: 8, color: theme.colors.text.secondary }}>
        首页 Home › 仪表板 Dashboards › 挖矿监测 › <span style={{ color: theme.colors.text.primary, fontWeight: 500 }}>{d.title}</span>
      </div>
      <div style={{ height: 64, display: 'flex', alignItems: 'center', padding: '0 16px', fontSize: 13, gap: 24 }}>
        {Object.entries(vars).map(([k, v]) => (
          <span key={k} style={{ color: theme.colors.text.secondary }}>
            {(d.templating.list.find((x) => x.name === k)?.label ?? k) + ' '}
            <b style={{ color: theme.colors.text.primary }}>{[v.text].flat().join(', ')}</b>
          </span>
        ))}
        <span style={{ marginLeft: 'auto', color: theme.colors.text.secondary }}>
          {g.dateTimeFormat(range.from, { timeZone: d.timezone })} – {g.dateTimeFormat(range.to, { timeZone: d.timezone })} (北京时间)
        </span>
      </div>
    </>
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
