// What every panel must show for the seeded campaign (plugin/pkg/campaign/vmtest.Campaign plus
// the ranking units and districts of dashboards/grafana_test.go, case rules replayed by vmalert)
// and the exporter's own series (dashboards/health_test.go: the exporter's decoder, pipeline and
// metric set run on 6¼ h of the simulated district-day scenario), looked at on Tue 10 Nov 2026
// 00:00 Beijing time (2026-W46; the last complete week is W45).
//
// General rules, for every panel: no query error, something to show (no "No data", no empty
// table or graph), every field override matching at least one field (an override that
// matches nothing is a silent bug: Grafana shows the field unstyled, or shows a hidden column),
// and no table cell of a code column showing the bare code.
// Then what particular panels must show.
import { g, major } from './grafana-frontend.mjs';

const viz = g.createTheme({ colors: { mode: 'dark' } }).visualization;
const RED = viz.getColorByName('red');
const ORANGE = viz.getColorByName('orange');
const GREEN = viz.getColorByName('green');

const hasData = (r) => {
  if (r.values) {
    return r.values.length > 0 && r.values.every((v) => v.text !== '' && v.text !== 'No data');
  }
  if (r.columns) {
    return r.rows > 0;
  }
  if (r.numericFields) {
    return r.points > 0;
  }
  return true;
};

/** Overrides whose matcher matches no field of the panel's data. */
function deadOverrides(panel, series) {
  const dead = [];
  for (const o of panel.fieldConfig?.overrides ?? []) {
    const info = g.fieldMatchers.get(o.matcher.id);
    const match = info.get(o.matcher.options);
    const props = o.properties.map((p) => p.id).join(', ');
    if (!series.some((f) => f.fields.some((x) => match(x, f, series)))) {
      dead.push(`${o.matcher.id} ${JSON.stringify(o.matcher.options)} (${props})`);
      continue;
    }
    // A list of names must not carry names that match nothing (a typo hides nothing).
    if (o.matcher.id === g.FieldMatcherID.byNames) {
      for (const n of o.matcher.options.names ?? []) {
        const one = info.get({ mode: 'include', names: [n] });
        if (!series.some((f) => f.fields.some((x) => one(x, f, series)))) {
          dead.push(`byNames ${JSON.stringify(n)} (${props})`);
        }
      }
    }
  }
  return dead;
}

// Columns whose cells are codes (the field's own name, before any rename): every cell must show
// its label, Chinese first (plugin/pkg/campaign/labels.go gives the datasource the labels of the
// campaign's codes; dashboards map the exporter's own), never the bare code ("gpu-workstation").
const CODE_COLUMNS = ['kind', 'state', 'class', 'disposition_class', 'disposition', 'sector', 'power_class'];
function bareCodes(r) {
  if (r.type !== 'table') {
    return [];
  }
  const out = [];
  for (const f of r.series) {
    for (const x of f.fields) {
      if (!CODE_COLUMNS.includes(x.name) || x.config.custom?.hidden) {
        continue;
      }
      const bare = [...new Set(x.values.filter((v) => v !== '' && v !== null && g.formattedValueToString(x.display(v)) === String(v)))];
      if (bare.length) {
        out.push(`column ${g.getFieldDisplayName(x, f, r.series)} shows codes, not labels: ${bare.join(', ')}`);
      }
    }
  }
  return out;
}

// Specific expectations: dashboard uid → panel title → check(result, dashboard) returning
// a list of complaints.
const eq = (what, got, want) => (JSON.stringify(got) === JSON.stringify(want) ? [] : [`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`]);
const stat = (want, color) => (r) => [
  ...eq('value', r.values?.map((v) => v.text), [want]),
  ...(color ? eq('colour', r.values?.[0]?.color, color) : []),
];
const cols = (want) => (r) => eq('columns shown', r.columns, want);
const contains = (col, has, hasNot = []) => (r) => {
  const v = r.column(col) ?? [];
  return [...has.filter((x) => !v.includes(x)).map((x) => `${col} lacks ${x}`), ...hasNot.filter((x) => v.includes(x)).map((x) => `${col} shows ${x}`)];
};
const all = (...fs) => (r, d) => fs.flatMap((f) => f(r, d));

// A graph's series: display name, unit, last value and how Grafana prints it, and how far back
// its first point goes.
const lines = (r) =>
  r.series.flatMap((f) => {
    const time = f.fields.find((x) => x.type === g.FieldType.time);
    return f.fields
      .filter((x) => x.type === g.FieldType.number)
      .map((x) => {
        const vals = x.values.filter((v) => v !== null && v !== undefined && !Number.isNaN(v));
        const last = vals.at(-1);
        return {
          name: g.getFieldDisplayName(x, f, r.series),
          unit: x.config.unit,
          last,
          max: Math.max(...vals),
          min: Math.min(...vals),
          text: last === undefined ? '' : g.formattedValueToString(x.display(last)),
          first: time?.values[0],
          thresholds: x.config.thresholds?.steps?.map((s) => `${s.value ?? '-∞'}:${s.color}`),
        };
      });
  });
// The graph shows exactly these series, in the unit given, each with points from the start of the
// dashboard's range (within 10 min) and values for which ok(line) holds.
const graph = (unit, want, ok = () => true) => (r, d) => {
  const ls = lines(r);
  const from = d.range.from.valueOf();
  return [
    ...eq('series', ls.map((l) => l.name).sort(), [...want].sort()),
    ...ls.filter((l) => l.unit !== unit).map((l) => `${l.name}: unit ${l.unit}, want ${unit}`),
    ...ls.filter((l) => !(l.first <= from + 10 * 60e3)).map((l) => `${l.name}: first point ${new Date(l.first).toISOString()}, range starts ${new Date(from).toISOString()}`),
    ...ls.filter((l) => !ok(l)).map((l) => `${l.name}: values ${l.min}…${l.max}, last ${l.text}`),
  ];
};
// The simulated district's exporters (exporter/scenarios/district-day.yaml and the v5 router
// dashboards/health_test.go adds).
const V9 = '10.100.255.1', IPFIX = '10.100.255.2', SFLOW = '10.100.255.3', V5 = '10.100.255.4';
const bySource = [`${V9} netflow_v9`, `${IPFIX} ipfix`, `${SFLOW} sflow_v5`, `${V5} netflow_v5`];

// The weekly review's 详情 column links each unit to the unit dashboard over the review's week (the
// backend's per-row unit_url) and says 单位详情; the total row (合计) has an empty cell and no link:
// Grafana 12's table drops a link whose URL came out empty. Grafana 11.6 keeps it, as about:blank
// (its getLinksSupplier sanitises the empty URL so), drawn around the empty text: nothing to see or
// click. The unit names are plain text.
const unitLinksIn = (col) => (r, d) => {
  const units = r.column('单位 unit') ?? [];
  const links = r.links(col) ?? [];
  const text = r.column(col) ?? [];
  const week = `from=${d.range.from.valueOf()}&to=${d.range.to.valueOf()}`;
  const out = units.length ? [] : ['no 单位 unit column'];
  units.forEach((u, i) => {
    const total = u === 'total';
    out.push(...eq(`links of ${u}`, links[i], total ? (major >= 12 ? [] : ['about:blank']) : [`/d/minewatch-unit/unit-detail?${week}&var-unit=${u}`]));
    out.push(...eq(`详情 of ${u}`, text[i], total ? '' : '单位详情'));
  });
  out.push(...r.links('单位名称 unit name').flatMap((l, i) => (l.length ? [`unit name of ${units[i]} links to ${l}`] : [])));
  return out;
};
const unitLinks = unitLinksIn('详情 details');

const trackerBrief = ['IP地址 IP', '单位名称 unit name', '责任人 person', '最近发现 last flagged', '本次开始 started'];

const expectations = {
  'minewatch-exporter': {
    '流记录（每秒，按来源）': graph('short', bySource, (l) => l.min > 0),
    '导出报文（每秒，按来源）': graph('short', bySource, (l) => l.min > 0),
    // One in 200 of the IPFIX exporter's datagrams arrives cut short.
    '解码错误（每秒）': graph('short', [`${IPFIX} truncated`], (l) => l.max > 0),
    // Every record of the district has an internal side: the drop counter is there, at 0.
    '丢弃记录（每秒，按原因）': graph('short', ['no_internal_side'], (l) => l.max === 0),
    // NetFlow v9 and IPFIX hold their templates (the simulator's encoder sends two each).
    '模板（按来源）': graph('none', [V9, IPFIX], (l) => l.last === 2),
    检测状态主机数: graph('none', ['主机数 hosts', '淘汰/秒 evictions/s'], (l) => (l.name.startsWith('主机数') ? l.last > 1000 : l.max === 0)),
    检测状态内存: graph('bytes', ['内存 memory'], (l) => l.last > 1e6 && /MiB$/.test(l.text)),
    // The flow clock is at most a scrape interval and a record's length behind.
    流时钟延迟: graph('s', ['延迟 lag'], (l) => l.min >= 0 && l.max < 180),
    // Every datagram arrives 300 ms after export; headers carry whole seconds: 0.3–1.3 s, inside
    // the tolerance line at 60 s. sFlow has no export time.
    '时钟偏差（按来源）': all(
      graph('s', [V9, IPFIX, V5], (l) => l.min >= 0.3 && l.max < 1.4),
      (r) => eq('threshold line', lines(r)[0]?.thresholds, ['-∞:green', `60:red`])
    ),
    // The v5 router samples nothing and so announces no rate.
    未声明采样率的来源: stat('1', ORANGE),
    矿池情报: all(
      cols(['情报列表 list', '类别 kind', '条目数 entries']),
      contains('类别 kind', ['域名 domain', 'IP:端口 ip_port'])
    ),
    情报加载成功: stat('正常', GREEN),
    台账加载成功: stat('正常', GREEN),
    // Counts, not alarms: no threshold colour (200 assets must not turn red).
    '台账单位 / 资产': (r) => [
      ...eq('values', r.values?.map((v) => `${v.title}=${v.text}`), ['单位 units=21', '资产 assets=200']),
      ...eq('colours', r.values?.map((v) => [RED, ORANGE, GREEN].includes(v.color)), [false, false]),
    ],
  },
  'minewatch-wall': {
    当前挖矿IP: stat('15', RED), // 10.1.0.2, 10.9.0.1 and the 13 ranking IPs
    本周新增: stat('13', ORANGE), // the ranking IPs, first flagged Mon 9 Nov
    本周清零: stat('4'),
    超期未处置: stat('16', RED),
    '清零率（近12周）': (r) => eq('unit', /%$/.test(r.values?.[0]?.text ?? ''), true),
    '本周挖矿功耗（耗电·电费·碳排）': (r) => eq('names and units', (r.values ?? []).map((v) => `${v.title}:${/(kWh|元|kg)$/.test(v.text)}`), ['耗电:true', '电费:true', '碳排 CO₂:true']),
    // The ten units with most mining IPs, most first: u-z (3) although its id sorts last.
    '单位排名（当前挖矿IP）': (r) => [
      ...eq('bars', r.values?.length, 10),
      ...eq('first bar', [r.values?.[0]?.title, r.values?.[0]?.text, r.values?.[0]?.color], ['职业技术学院 u-z', '3', RED]),
      ...eq('sorted', r.values?.map((v) => v.numeric), [...(r.values ?? []).map((v) => v.numeric)].sort((a, b) => b - a)),
      // The districts' own ledger entries (dashboards/grafana_test.go districtSeries) are no units:
      // none of the frames the ranking is cut from (before its limit) is one: it would rank as a clean unit at 0.
      ...eq('districts among the units', r.raw.flatMap((f) => f.fields.map((x) => x.labels?.unit)).filter((u) => /^d-/.test(u ?? '')), []),
    ],
    // Districts by name and id, as the unit variables show units.
    '辖区排名（当前挖矿IP）': (r) => [
      ...eq('first bars', r.values?.slice(0, 2).map((v) => `${v.title}=${v.text}`), ['南区教育局 d-south=10', '北区教育局 d-north=3']),
      ...eq('sorted', r.values?.map((v) => v.numeric), [...(r.values ?? []).map((v) => v.numeric)].sort((a, b) => b - a)),
    ],
    '未结案件（超期标红）': all(
      cols(['IP地址 IP', '单位名称 unit name', '资产 asset', '责任人 responsible', '最近发现 last flagged', '本次开始 started', '定位超期 locate overdue', '报告超期 report overdue']),
      contains('IP地址 IP', ['10.1.0.2', '10.6.0.3', '10.9.0.1']),
      contains('定位超期 locate overdue', ['超期'])
    ),
  },
  'minewatch-weekly': {
    // The review opens on the last complete week, W45, and its lists on the same week.
    '周研判（按单位）': (r, d) => [
      ...eq('week', d.vars.week?.value, '2026-W45'),
      ...eq('range', [d.range.from.valueOf(), d.range.to.valueOf()], [Date.UTC(2026, 10, 1, 16), Date.UTC(2026, 10, 8, 16) - 1]),
      ...contains('单位 unit', ['u-a', 'u-b', 'u-c', 'u-d', 'total'])(r),
      ...unitLinksIn('详情')(r, d),
      // What the meeting reads, by IP, in columns that fit 1920 px; the rest in the tables below.
      ...cols(['单位名称 unit name', '辖区 district', '周末在挖 at week end', '新增 new', '复发 relapsed', '持续 still active', '清零 cleared',
        '本周涉及IP distinct IPs', '上周涉及IP previous week', '环比 change', '超期 overdue', '近365天复发 relapses', '反复复发 repeated', '详情'])(r),
    ],
    '按设备计（按单位）': all(
      cols(['单位名称 unit name', '行业 sector', '周末在挖设备 at week end', '新增设备 new', '复发设备 relapsed', '持续设备 still active',
        '清零设备 cleared', '本周涉及设备 this week', '上周涉及设备 last week', '设备环比 change', '超期设备 overdue', '近365天次数 episodes', '详情 details']),
      contains('单位名称 unit name', ['一中', '合计']),
      unitLinks
    ),
    '挖矿时长与能耗（按单位）': all(
      unitLinks,
      cols(['单位名称 unit name', '挖矿时长(小时) hours', '耗电(千瓦时) kWh', '电费(元) yuan', '二氧化碳(千克) CO2 kg', '详情 details']),
      // docs/campaign.md's known answer: 一中 147 h, 54.3 kWh, 59.73 元, 28.81 kg in W45.
      (r) => eq('一中', ['挖矿时长(小时) hours', '耗电(千瓦时) kWh', '电费(元) yuan', '二氧化碳(千克) CO2 kg'].map((c) => r.column(c)?.[r.column('单位名称 unit name')?.indexOf('一中')]), ['147', '54.30', '59.73', '28.81'])
    ),
    '新增（首次发现）': all(cols(trackerBrief), contains('IP地址 IP', ['10.1.0.1', '10.1.0.2'])),
    复发: all(cols(trackerBrief), contains('IP地址 IP', ['10.2.0.2'], ['10.1.0.1'])),
    本周清零: all(cols(['IP地址 IP', '单位名称 unit name', '单位 unit']), contains('IP地址 IP', ['10.2.0.1'], ['10.3.0.1', '10.1.0.2']), contains('单位名称 unit name', ['二中'])),
    // Full width, so the overdue flags are on the screen, not past the panel's edge.
    超期案件: all(
      cols(['IP地址 IP', '单位名称 unit name', '资产 asset', '责任人 responsible', '本次开始 episode start', '定位时限 locate deadline', '定位超期 locate overdue',
        '报告时限 report deadline', '报告超期 report overdue', '处置 disposition', '处置时间 disposed at']),
      contains('定位超期 locate overdue', ['超期']),
      (r, d) => eq('width', r.panel.gridPos.w, 24)
    ),
    反复复发的单位: all(
      cols(['单位 unit', '单位名称 unit name', '辖区 district', '近365天次数 episodes', '近365天复发 relapses', '反复复发 repeated', '详情 details']),
      (r) => eq('repeated relapse column', [...new Set(r.column('反复复发 repeated'))], ['反复复发']),
      // Units that lose the year's awards: the total row (repeated when any unit is) is none.
      contains('单位名称 unit name', ['热电厂'], ['合计']),
      unitLinks
    ),
  },
  'minewatch-unit': {
    当前挖矿IP: (r, d) => [...eq('unit', d.vars.unit?.value, 'u-a'), ...stat('1')(r)],
    // The unit's district by name and id (a join on the ledger's parent unit).
    单位信息: all(cols(['单位 unit', '单位名称 unit name', '行业 sector', '辖区 district']), contains('辖区 district', ['东城区教育局 d-east'])),
    // The weekly review's IP columns, as the weekly dashboard shows them: the unit's row and the total.
    近期周研判: all(
      cols(['单位名称 unit name', '周末在挖 at week end', '新增 new', '复发 relapsed', '持续 still active', '清零 cleared',
        '本周涉及IP distinct IPs', '上周涉及IP previous week', '环比 change', '超期 overdue', '近365天复发 relapses', '反复复发 repeated']),
      contains('单位名称 unit name', ['一中', '合计'])
    ),
    IP清零台账: all(contains('IP地址 IP', ['10.1.0.1', '10.1.0.2'], ['10.2.0.1']), cols(['IP地址 IP', '资产 asset', '责任人 responsible', '当前状态 state',
      '最近发现 last flagged', '本次开始 started', '类别 class', '定位时限 locate deadline', '定位超期 locate overdue', '报告时限 report deadline',
      '报告超期 report overdue', '处置 disposition']), (r) =>
      ['单位 unit', '单位名称 unit name', '状态 state', '定性 disposition class', '处置说明 note']
        .filter((c) => r.columns.includes(c))
        .map((c) => `hidden column ${c} shown`)
    ),
  },
  'minewatch-ip': {
    本次事件开始: (r, d) => [...eq('ip', d.vars.ip?.value, '10.1.0.1'), ...stat('2026/11/03 10:00:00')(r)],
    '定位时限（48小时）': stat('2026/11/05 10:00:00'),
    '报告时限（72小时）': stat('2026/11/06 10:00:00'),
    处置记录: all((r) => eq('rows', r.rows, 2), contains('阶段 stage', ['已定位 located', '已报告 reported'])),
    // Signals by their Chinese name, the code second. The Stratum profile was not seen for six
    // hours in the night of 3–4 Nov (dashboards/grafana_test.go's stratumGap): its line breaks
    // there, as Grafana draws it (nulls inserted where points lie more than the step apart,
    // spanNulls off), and only there; the other lines are unbroken.
    评分与判定依据: (r) => {
      const gaps = Object.fromEntries((r.numericFields ?? []).map((f) => [f.name, f.gaps ?? []]));
      const stratum = gaps['Stratum会话特征 stratum_profile'] ?? [];
      const near = (t, want) => Math.abs(t - want) <= 30 * 60e3;
      return [
        ...eq('series', lines(r).map((l) => l.name).sort(), ['Stratum会话特征 stratum_profile', '评分', '连接已登记矿池 pool_contact'].sort()),
        ...(stratum.length === 1 && near(stratum[0][0], Date.UTC(2026, 10, 3, 18, 10)) && near(stratum[0][1], Date.UTC(2026, 10, 4, 0, 10))
          ? []
          : [`Stratum line breaks at ${JSON.stringify(stratum)}, want once, 4 Nov 02:10–08:10`]),
        ...Object.entries(gaps).filter(([n, gs]) => !n.startsWith('Stratum') && gs.length).map(([n, gs]) => `${n}: line broken at ${JSON.stringify(gs)}`),
        ...r.series.flatMap((f) => f.fields).filter((x) => x.config.custom?.spanNulls).map((x) => `${x.name}: spanNulls ${x.config.custom.spanNulls} draws over gaps`),
      ];
    },
    资产与责任人: all(
      cols(['资产 asset', '部门 department', '资产类型 kind', '位置 location', '责任人 owner', '科研用途 research', '单位 unit']),
      contains('科研用途 research', ['否 no']),
      contains('资产类型 kind', ['显卡工作站 gpu-workstation'])
    ),
    最近判定依据: (r) => eq('rows', r.rows, 2),
    // One row of coloured states, as the panel's mappings and thresholds say: mining (red) from
    // 3 Nov 10:10 to 5 Nov 09:10 Beijing time, then normal (green) while the exporter still wrote
    // the series (the hour after, to 5 Nov 10:10), then no state: the series stops, and Grafana
    // ends the band there (the frames' interval) instead of carrying "normal" to the range's end.
    '挖矿事件（判定时段）': (r, d) => {
      const bands = r.states?.[0]?.bands ?? [];
      const near = (t, want) => Math.abs(t - want) <= 20 * 60e3;
      return [
        ...eq('rows', r.states?.map((x) => x.name), ['挖矿']),
        ...eq('states', bands.map((b) => `${b.text} ${b.color}`), [`挖矿 ${RED}`, `正常 ${GREEN}`]),
        ...(near(bands[0]?.from, Date.UTC(2026, 10, 3, 2, 10)) && near(bands[0]?.to, Date.UTC(2026, 10, 5, 1, 10)) ? [] : [`mining band ${JSON.stringify(bands[0])}, want 3 Nov 10:10 – 5 Nov 09:10`]),
        ...(near(bands[1]?.to, Date.UTC(2026, 10, 5, 2, 10)) ? [] : [`normal band ends ${new Date(bands[1]?.to).toISOString()}, want where the series stops, 5 Nov 10:10 (range ends ${d.range.to.toISOString()})`]),
      ];
    },
  },
};

/** Every failed check of every panel, as lines. */
export function check(results) {
  const fails = [];
  const seen = new Set();
  for (const d of Object.values(results)) {
    for (const [title, r] of Object.entries(d.panels)) {
      const key = `${d.uid}: ${title}`;
      const fail = (m) => fails.push(`${key}: ${m}`);
      if (r.errors.length) {
        fail(`query error: ${r.errors.join('; ')}`);
        continue;
      }
      if (!hasData(r)) {
        fail(`shows no data (${r.values ? r.values.map((v) => v.text || '""').join(', ') : `${r.rows ?? r.points} rows/points`})`);
      }
      for (const o of deadOverrides(r.panel, r.series)) {
        fail(`override matches no field: ${o}`);
      }
      for (const m of bareCodes(r)) {
        fail(m);
      }
      const want = expectations[d.uid]?.[title];
      if (want) {
        seen.add(key);
        for (const m of want(r, d)) {
          fail(m);
        }
      }
    }
  }
  for (const [uid, ps] of Object.entries(expectations)) {
    for (const title of Object.keys(ps)) {
      if (!seen.has(`${uid}: ${title}`) && !fails.some((f) => f.startsWith(`${uid}: ${title}:`))) {
        fails.push(`${uid}: ${title}: panel not found`);
      }
    }
  }
  return fails;
}
