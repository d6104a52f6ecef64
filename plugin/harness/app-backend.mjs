// A stand-in for the app's backend (the datasource's resource API, plugin/pkg) for the browser
// harness: answers me, cases, cases/<id>, dispositions, cases/<id>/report and attachments with the
// shapes of the API's contract, and records what the page sent. Times are relative to now so that
// countdowns have known values: case c1 has 5 h left to locate, c2 is 3 h overdue.
const H = 3600 * 1000;
const iso = (ms) => new Date(ms).toISOString();

export function fakeBackend() {
  // "now" is when the page first asks for the cases, so the countdowns start where stated.
  let now;
  let cases;
  const me = { login: 'lead1', email: 'lead@no1.example.edu.cn', name: '张老师', role: 'Editor', bureau: false, units: [{ id: 'zd-no1', name: '郑东新区第一中学' }] };
  // 30 s margins keep the minute from turning between the answer and the assertion.
  const makeCases = () => [
    { id: 'c1', ip: '10.20.3.21', unit: 'zd-no1', unitName: '郑东新区第一中学', source: 'detected', state: 'open', deviceKey: 'aa:bb:cc:dd:ee:ff', device: '实验楼301 GPU工作站', person: '李老师', opened: iso(now - 43 * H), locateDue: iso(now + 5 * H + 30000), reportDue: iso(now + 29 * H + 30000), overdue: false, maxScore: 87.4 },
    { id: 'c2', ip: '10.20.5.9', unit: 'zd-no1', unitName: '郑东新区第一中学', source: 'notice', state: 'open', opened: iso(now - 51 * H), locateDue: iso(now - 3 * H + 30000), reportDue: iso(now + 21 * H + 30000), overdue: true, maxScore: 64 },
  ];
  let timeline;
  const start = () => {
    if (!cases) {
      now = Date.now();
      cases = makeCases();
      timeline = [{ at: cases[0].opened, stage: 'opened', author: 'minewatch', authorRole: 'system', via: 'cli' }];
    }
  };
  const attachments = [];
  const state = {
    requests: [],
    posts: [],
    // What POST dispositions answers next: 201, or 403 with the backend's refusal.
    refuse: false,
  };
  const json = (route, status, data) => route.fulfill({ status, contentType: 'application/json; charset=utf-8', body: JSON.stringify(data) });

  state.route = async (route) => {
    const req = route.request();
    const u = new URL(req.url());
    const m = /^\/api\/datasources\/uid\/([^/]+)\/resources\/(.*)$/.exec(u.pathname);
    const path = m[2];
    start();
    state.requests.push({ uid: m[1], method: req.method(), path, query: Object.fromEntries(u.searchParams) });
    if (req.method() === 'POST') {
      state.posts.push({ path, contentType: req.headers()['content-type'], body: JSON.parse(req.postData() ?? 'null') });
    }
    if (req.method() === 'GET' && path === 'me') {
      return json(route, 200, me);
    }
    // The datasource's editors on the same page ask for their dropdowns' options.
    if (req.method() === 'GET' && path === 'variables') {
      const opts = { units: [{ text: '郑东新区第一中学', value: 'zd-no1' }], sectors: [{ text: '学校 school', value: 'school' }], districts: [{ text: '郑东新区', value: 'zd-edu' }], states: [{ text: '挖矿中 active', value: 'active' }] };
      return json(route, 200, opts[u.searchParams.get('kind')] ?? []);
    }
    if (req.method() === 'GET' && path === 'cases') {
      return json(route, 200, cases);
    }
    if (req.method() === 'GET' && path === 'cases/c1') {
      return json(route, 200, {
        case: cases[0],
        timeline,
        notices: [{ number: 'HA-2026-118', egress: '203.0.113.5', window: '2026-11-29 08:00–10:00', remote: '198.51.100.7:3333', receivedAt: cases[0].opened }],
        trace: [{ link: 'mac', value: 'aa:bb:cc:dd:ee:ff', how: 'Kea lease 10.20.3.21', confidence: 'exact' }],
        evidence: { score: 87.4, reasons: [{ signal: 'pool', label: '连接已知矿池 pool contact', points: 50.2 }, { signal: 'stratum', label: 'Stratum 会话特征 Stratum profile', points: 37.2 }], firstSeen: cases[0].opened, lastSeen: iso(now - H) },
        attachments,
        audit: { ok: true, entries: timeline.length },
      });
    }
    if (req.method() === 'POST' && path === 'dispositions') {
      if (state.refuse) {
        return json(route, 403, { error: '无权处置其他单位的案件 not your unit' });
      }
      const body = JSON.parse(req.postData());
      const at = iso(Date.now());
      timeline.push({ at, stage: body.stage, class: body.class, note: body.note, author: me.login, authorRole: me.role, via: 'grafana' });
      // As the backend does (plugin/pkg/plugin cases.go): the first disposition located or later
      // meets the locate deadline, the first reported or closed the report deadline.
      const c = cases[0];
      if (['located', 'reported', 'closed'].includes(body.stage)) c.located ??= at;
      if (['reported', 'closed'].includes(body.stage)) c.reported ??= at;
      if (body.stage === 'closed') c.closed ??= at;
      return json(route, 201, { id: timeline.length, ...body });
    }
    if (req.method() === 'POST' && path === 'cases/c1/report') {
      const doc = Buffer.from('PK\u0003\u0004 minewatch harness docx');
      attachments.push({ id: 'a1', name: '书面报告-c1.docx', size: doc.length, sha256: '0'.repeat(64), by: me.login, at: iso(Date.now()) });
      return route.fulfill({
        status: 200,
        contentType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
        headers: { 'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent('书面报告-c1.docx')}` },
        body: doc,
      });
    }
    if (req.method() === 'GET' && path === 'pack') {
      const name = `周会材料-${u.searchParams.get('week')}.${u.searchParams.get('format')}`;
      return route.fulfill({
        status: 200,
        contentType: u.searchParams.get('format') === 'pdf' ? 'application/pdf' : 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        headers: { 'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(name)}` },
        body: Buffer.from('%PDF-1.4 minewatch harness pack'),
      });
    }
    return json(route, 404, { error: `未知资源 unknown resource ${path}` });
  };
  return state;
}

// A stand-in for the part of Grafana's own API the app's configuration page calls, answered as
// Grafana answers (pkg/api/plugins.go, pkg/api/datasources.go):
// - GET /api/plugins/<id>/settings: the app's meta with enabled, pinned and jsonData as stored;
// - POST /api/plugins/<id>/settings: stores enabled, pinned and jsonData (Grafana replaces them
//   whole) and answers {"message":"Plugin settings updated"}; `refuse` set answers that status and
//   message instead, as Grafana's access control does for a user without plugins:write;
// - GET /api/datasources/uid/<uid>/health: 200 with {status, message, details} for an OK check,
//   400 with the same body for ERROR, as Grafana relays the backend's CheckHealth.
// The health answers are in the shape of plugin/pkg/plugin/health.go (its own test checks it).
export function fakeGrafana(meta) {
  const state = {
    settings: { enabled: false, pinned: false, jsonData: {} },
    posts: [],
    health: [],
    refuse: undefined,
  };
  const part = (configured, ok, message, extra = {}) => ({ configured, ok, message, ...extra });
  const healthOf = {
    'minewatch-harness': {
      status: 'OK',
      message: 'VictoriaMetrics 连接正常 connected; 全部单位 all units; 案件库可读写 case store readable and writable',
      details: {
        victoriaMetrics: part(true, true, 'VictoriaMetrics 连接正常 connected', { where: 'http://127.0.0.1:8428' }),
        caseStore: part(true, true, '案件库可读写 case store readable and writable', { where: '/var/lib/grafana/minewatch/cases.db' }),
        ledger: part(true, true, '台账已读取：12 个单位，其中 12 个登记了负责人邮箱 / ledger read: 12 units, 12 with a lead email', { units: 12, leads: 12 }),
        scope: '全部单位 all units',
        bureauUsers: 2,
      },
    },
    'minewatch-district': {
      status: 'ERROR',
      message: 'VictoriaMetrics 查询失败 query failed',
      details: {
        victoriaMetrics: part(true, false, 'VictoriaMetrics 查询失败 query failed at http://127.0.0.1:1/api/v1/query: connection refused', { where: 'http://127.0.0.1:1' }),
        caseStore: part(false, true, '未配置案件库 (caseStore)：单位负责人不能在页面登记处置、提交书面报告 / no case store: dispositions and reports cannot be recorded'),
        ledger: part(false, true, '未配置台账 (ledgerFiles)：没有单位负责人，只有教育局人员能看到案件 / no ledger: no unit leads, only bureau staff see cases'),
        scope: '全部单位 all units',
        bureauUsers: 0,
      },
    },
  };
  const json = (route, status, data) => route.fulfill({ status, contentType: 'application/json; charset=utf-8', body: JSON.stringify(data) });
  state.route = async (route) => {
    const req = route.request();
    const u = new URL(req.url());
    const h = /^\/api\/datasources\/uid\/([^/]+)\/health$/.exec(u.pathname);
    if (h) {
      state.health.push(h[1]);
      const body = healthOf[h[1]];
      if (!body) {
        return json(route, 404, { message: 'Data source not found' });
      }
      return json(route, body.status === 'OK' ? 200 : 400, body);
    }
    if (u.pathname !== `/api/plugins/${meta.id}/settings`) {
      return json(route, 404, { message: 'Plugin not found' });
    }
    if (req.method() === 'GET') {
      return json(route, 200, { ...meta, module: `/public/plugins/${meta.id}/module.js`, baseUrl: `/public/plugins/${meta.id}`, ...state.settings, secureJsonFields: {} });
    }
    const body = JSON.parse(req.postData() ?? 'null');
    state.posts.push({ contentType: req.headers()['content-type'], body });
    if (state.refuse) {
      return json(route, state.refuse.status, { message: state.refuse.message });
    }
    state.settings = { enabled: Boolean(body.enabled), pinned: Boolean(body.pinned), jsonData: body.jsonData ?? {} };
    return json(route, 200, { message: 'Plugin settings updated' });
  };
  return state;
}
