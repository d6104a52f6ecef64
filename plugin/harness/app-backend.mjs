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
      timeline.push({ at: iso(Date.now()), stage: body.stage, class: body.class, note: body.note, author: me.login, authorRole: me.role, via: 'grafana' });
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
