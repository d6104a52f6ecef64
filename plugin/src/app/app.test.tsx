// The app's pages against a fake backendSrv that answers the case API as its contract says
// (plugin/pkg's resources: me, cases, cases/<id>, dispositions, cases/<id>/report, pack).
import React from 'react';
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { AppRootProps, PluginType } from '@grafana/data';
import { locationService, setBackendSrv, setDataSourceSrv } from '@grafana/runtime';
import { defer } from 'rxjs';
import { App, route } from './App';
import { fileName } from './api';
import { countdown, isoWeek, recentWeeks } from './time';

const H = 3600 * 1000;
const RES = '/api/datasources/uid/minewatch/resources/';

interface Req {
  url: string;
  method: string;
  params?: Record<string, string>;
  data?: unknown;
  responseType?: string;
}
type Answer = { status: number; data?: unknown; headers?: Record<string, string> };

let calls: Req[];
let answer: (path: string, req: Req) => Answer;

function fakeBackend() {
  calls = [];
  setBackendSrv({
    fetch: (req: Req) =>
      defer(async () => {
        calls.push(req);
        const a = answer(req.url.replace(RES, ''), req);
        if (a.status >= 400) {
          throw { status: a.status, data: a.data, statusText: 'error' };
        }
        const h = Object.fromEntries(Object.entries(a.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
        return { status: a.status, ok: true, data: a.data, headers: { get: (k: string) => h[k.toLowerCase()] ?? null } };
      }),
  } as never);
}

const me = { login: 'lead1', email: 'lead@no1.example.edu.cn', name: '张老师', role: 'Editor', bureau: false, units: [{ id: 'zd-no1', name: '郑东新区第一中学' }, { id: 'zd-no2', name: '第二中学' }] };

function cases(now: number) {
  return [
    // Opened 43 h ago: 5 h left to locate (30 s margin so the minute does not turn during the test).
    { id: 'c1', ip: '10.20.3.21', unit: 'zd-no1', unitName: '郑东新区第一中学', source: 'detected', state: 'open', device: '实验楼301 GPU工作站', person: '李老师', opened: new Date(now - 43 * H).toISOString(), locateDue: new Date(now + 5 * H + 30000).toISOString(), reportDue: new Date(now + 29 * H + 30000).toISOString(), overdue: false, maxScore: 87.4 },
    // Opened 51 h ago, not located: 3 h overdue.
    { id: 'c2', ip: '10.20.5.9', unit: 'zd-no1', unitName: '郑东新区第一中学', source: 'notice', state: 'open', opened: new Date(now - 51 * H).toISOString(), locateDue: new Date(now - 3 * H + 30000).toISOString(), reportDue: new Date(now + 21 * H + 30000).toISOString(), overdue: true, maxScore: 64 },
  ];
}

function detail(now: number) {
  const c = cases(now)[0];
  return {
    case: c,
    timeline: [{ at: c.opened, stage: 'opened', author: 'minewatch', authorRole: 'system', via: 'cli' }],
    notices: [{ number: 'HA-2026-118', egress: '203.0.113.5', window: '2026-11-29 08:00–10:00', remote: '198.51.100.7:3333', receivedAt: c.opened }],
    trace: [{ link: 'mac', value: 'aa:bb:cc:dd:ee:ff', how: 'Kea lease', confidence: 'exact' }],
    evidence: { score: 87.4, reasons: [{ signal: 'pool', label: '连接已知矿池 pool contact', points: 50.2 }, { signal: 'stratum', label: 'Stratum 会话特征 Stratum profile', points: 37.2 }], firstSeen: c.opened, lastSeen: new Date(now - H).toISOString() },
    attachments: [],
    audit: { ok: true, entries: 3 },
  };
}

function defaultAnswers(now: number) {
  return (path: string, req: Req): Answer => {
    if (path === 'me') {
      return { status: 200, data: me };
    }
    if (path === 'cases') {
      return { status: 200, data: cases(now) };
    }
    if (path === 'cases/c1') {
      return { status: 200, data: detail(now) };
    }
    if (path === 'variables' && req.params?.kind === 'districts') {
      return { status: 200, data: [{ text: '郑东新区 zd', value: 'zd' }] };
    }
    return { status: 404, data: { error: `未知 unknown ${path}` } };
  };
}

const meta = { id: 'minewatch-campaign-app', name: 'minewatch', type: PluginType.app, jsonData: {}, info: {} } as never;

function renderApp(path: string) {
  act(() => locationService.push(path));
  return render(<App {...({ meta, path, basename: '/a/minewatch-campaign-app', query: {}, onNavChanged: () => {} } as unknown as AppRootProps)} />);
}

beforeEach(() => {
  setDataSourceSrv({ getList: () => [{ uid: 'minewatch', type: 'minewatch-mining-datasource', name: 'minewatch' }] } as never);
  fakeBackend();
  answer = defaultAnswers(Date.now());
  global.URL.createObjectURL = jest.fn(() => 'blob:x');
  global.URL.revokeObjectURL = jest.fn();
});

describe('我的待办 My cases', () => {
  it('lists the open cases with countdowns, the overdue one in red', async () => {
    renderApp('/a/minewatch-campaign-app/cases');
    // 5 h left and 3 h overdue when answered; a loaded machine may render a few minutes later.
    const left = await screen.findByText(/^剩 (5小时0分|4小时[45]\d分) \/ (5h 0m|4h [45]\dm) left$/);
    expect(left).toHaveAttribute('data-overdue', 'false');
    const late = screen.getByText(/^超期 (2小时59分|3小时1?\d分) \/ (2h 59m|3h 1?\dm) overdue$/);
    expect(late).toHaveAttribute('data-overdue', 'true');
    expect(screen.getByText('实验楼301 GPU工作站')).toBeInTheDocument();
    expect(screen.getByText('上级通报 notice')).toBeInTheDocument();
    const first = calls.find((c) => c.url.endsWith('/cases'))!;
    expect(first.params).toEqual({ state: 'open' });
  });

  it('asks again for all states and for one unit', async () => {
    renderApp('/a/minewatch-campaign-app/cases');
    await screen.findByText('10.20.3.21');
    fireEvent.click(screen.getByLabelText('全部 All'));
    await waitFor(() => expect(calls.filter((c) => c.url.endsWith('/cases')).at(-1)!.params).toEqual({ state: 'all' }));
    fireEvent.keyDown(document.getElementById('minewatch-unit')!, { key: 'ArrowDown' });
    fireEvent.click(await screen.findByText('第二中学 (zd-no2)'));
    await waitFor(() => expect(calls.filter((c) => c.url.endsWith('/cases')).at(-1)!.params).toEqual({ state: 'all', unit: 'zd-no2' }));
  });
});

describe('案件 Case page and the disposition form', () => {
  it('shows evidence, timeline author, notices, trace and audit', async () => {
    renderApp('/a/minewatch-campaign-app/cases/c1');
    expect(await screen.findByText('连接已知矿池 pool contact')).toBeInTheDocument();
    expect(screen.getByText('50')).toBeInTheDocument();
    expect(screen.getByText('minewatch (system)')).toBeInTheDocument();
    expect(screen.getByText('HA-2026-118')).toBeInTheDocument();
    expect(screen.getByText('aa:bb:cc:dd:ee:ff')).toBeInTheDocument();
    expect(screen.getByTestId('audit')).toHaveTextContent('审计链完整 Audit chain intact (3)');
  });

  it('records "located" with class and note, as the contract body', async () => {
    const base = defaultAnswers(Date.now());
    answer = (path, req) => (path === 'dispositions' ? { status: 201, data: { id: 7, caseId: 'c1' } } : base(path, req));
    renderApp('/a/minewatch-campaign-app/cases/c1');
    await screen.findByText('连接已知矿池 pool contact');
    // Without a class the form refuses and nothing is posted.
    fireEvent.click(screen.getByText('提交 Submit'));
    expect(await screen.findByText('请选择性质（主动 / 被动 / 科研）/ choose a class')).toBeInTheDocument();
    expect(calls.some((c) => c.method === 'POST')).toBe(false);
    fireEvent.click(screen.getByLabelText('已定位 located'));
    fireEvent.click(screen.getByLabelText('被动 passive'));
    fireEvent.change(screen.getByLabelText('说明 Note'), { target: { value: '木马挖矿，已断网重装 / trojan, reinstalled' } });
    fireEvent.click(screen.getByText('提交 Submit'));
    expect(await screen.findByText('已记录 Recorded: 已定位 located · 被动 passive')).toBeInTheDocument();
    const post = calls.find((c) => c.method === 'POST')!;
    expect(post.url).toBe(`${RES}dispositions`);
    expect(post.data).toEqual({ caseId: 'c1', ip: '10.20.3.21', unit: 'zd-no1', stage: 'located', class: '被动', note: '木马挖矿，已断网重装 / trojan, reinstalled' });
    // The case is read again after the write.
    await waitFor(() => expect(calls.filter((c) => c.url.endsWith('/cases/c1')).length).toBe(2));
  });

  it('shows the backend refusal (403) as it says it', async () => {
    const base = defaultAnswers(Date.now());
    answer = (path, req) => (path === 'dispositions' ? { status: 403, data: { error: '无权处置其他单位的案件 not your unit' } } : base(path, req));
    renderApp('/a/minewatch-campaign-app/cases/c1');
    await screen.findByText('连接已知矿池 pool contact');
    fireEvent.click(screen.getByLabelText('主动 active'));
    fireEvent.click(screen.getByText('提交 Submit'));
    expect(await screen.findByText('无权处置 / refused (403): 无权处置其他单位的案件 not your unit')).toBeInTheDocument();
  });
});

describe('书面报告 written report', () => {
  it('previews the case, requires the fields, posts them and lists the attachment', async () => {
    const now = Date.now();
    const base = defaultAnswers(now);
    let reported = false;
    answer = (path, req) => {
      if (path === 'cases/c1/report') {
        reported = true;
        return { status: 200, data: new Blob(['docx']), headers: { 'Content-Disposition': "attachment; filename*=UTF-8''%E4%B9%A6%E9%9D%A2%E6%8A%A5%E5%91%8A-c1.docx" } };
      }
      if (path === 'cases/c1' && reported) {
        const d = detail(now);
        return { status: 200, data: { ...d, attachments: [{ id: 'a1', name: '书面报告-c1.docx', size: 20480, sha256: 'ab'.repeat(32), by: 'lead1', at: new Date(now).toISOString() }] } };
      }
      return base(path, req);
    };
    renderApp('/a/minewatch-campaign-app/cases/c1/report');
    expect(await screen.findByText('报告预览 Preview', { selector: 'h3' })).toBeInTheDocument();
    expect(screen.getAllByText('实验楼301 GPU工作站').length).toBeGreaterThan(0);
    expect(screen.getByDisplayValue('张老师')).toBeInTheDocument();
    fireEvent.click(screen.getByText('生成并下载 DOCX / Generate DOCX'));
    expect(await screen.findAllByText('必填 Required')).toHaveLength(2);
    expect(calls.some((c) => c.method === 'POST')).toBe(false);
    fireEvent.change(document.getElementById('minewatch-cause')!, { target: { value: '学生私自运行挖矿程序' } });
    fireEvent.change(document.getElementById('minewatch-measures')!, { target: { value: '重装系统，加装终端管控' } });
    fireEvent.change(document.getElementById('minewatch-phone')!, { target: { value: '0371-12345678' } });
    fireEvent.click(screen.getByText('生成并下载 DOCX / Generate DOCX'));
    expect(await screen.findByText('报告已生成，已列入附件 / report generated and listed under attachments: 书面报告-c1.docx')).toBeInTheDocument();
    const post = calls.find((c) => c.method === 'POST')!;
    expect(post.url).toBe(`${RES}cases/c1/report`);
    expect(post.responseType).toBe('blob');
    expect(post.data).toEqual({ format: 'docx', fields: { cause: '学生私自运行挖矿程序', measures: '重装系统，加装终端管控', reporter: '张老师', phone: '0371-12345678' } });
    expect(global.URL.createObjectURL).toHaveBeenCalled();
    expect(await screen.findByText('书面报告-c1.docx')).toBeInTheDocument();
  });
});

describe('a case not yet in the store (d~<unit>~<ip>)', () => {
  const D = 'd~zd-no1~10.20.3.21';
  const pathOf = (id: string) => `cases/${encodeURIComponent(id)}`;
  const asStored = (now: number, id: string) => {
    const d = detail(now);
    return { ...d, case: { ...d.case, id } };
  };

  it('goes to the store case its first disposition opened (caseId a number in the JSON)', async () => {
    const now = Date.now();
    const base = defaultAnswers(now);
    answer = (path, req) => {
      if (path === pathOf(D)) {
        return { status: 200, data: asStored(now, D) };
      }
      if (path === 'cases/12') {
        return { status: 200, data: asStored(now, '12') };
      }
      if (path === 'dispositions') {
        return { status: 201, data: { id: 7, caseId: 12, stage: 'located', class: 'passive', author: 'lead1', authorRole: 'Editor' } };
      }
      return base(path, req);
    };
    renderApp(`/a/minewatch-campaign-app/cases/${encodeURIComponent(D)}`);
    await screen.findByText('连接已知矿池 pool contact');
    fireEvent.click(screen.getByLabelText('被动 passive'));
    fireEvent.click(screen.getByText('提交 Submit'));
    await waitFor(() => expect(locationService.getLocation().pathname).toBe('/a/minewatch-campaign-app/cases/12'));
    expect(calls.find((c) => c.method === 'POST')!.data).toMatchObject({ caseId: D });
    await waitFor(() => expect(calls.some((c) => c.url === `${RES}cases/12`)).toBe(true));
  });

  it('goes to the store case its written report opened (X-Minewatch-Case-Id)', async () => {
    const now = Date.now();
    const base = defaultAnswers(now);
    answer = (path, req) => {
      if (path === pathOf(D)) {
        return { status: 200, data: asStored(now, D) };
      }
      if (path === 'cases/12') {
        return { status: 200, data: asStored(now, '12') };
      }
      if (path === `${pathOf(D)}/report`) {
        return { status: 201, data: new Blob(['docx']), headers: { 'Content-Disposition': 'attachment; filename="r.docx"', 'X-Minewatch-Case-Id': '12' } };
      }
      return base(path, req);
    };
    renderApp(`/a/minewatch-campaign-app/cases/${encodeURIComponent(D)}/report`);
    await screen.findByText('报告预览 Preview', { selector: 'h3' });
    fireEvent.change(document.getElementById('minewatch-cause')!, { target: { value: '学生私自运行挖矿程序' } });
    fireEvent.change(document.getElementById('minewatch-measures')!, { target: { value: '重装系统' } });
    fireEvent.change(document.getElementById('minewatch-phone')!, { target: { value: '0371-12345678' } });
    fireEvent.click(screen.getByText('生成并下载 DOCX / Generate DOCX'));
    await waitFor(() => expect(locationService.getLocation().pathname).toBe('/a/minewatch-campaign-app/cases/12/report'));
    await waitFor(() => expect(calls.some((c) => c.url === `${RES}cases/12`)).toBe(true));
  });
});

describe('周会材料 meeting pack', () => {
  it('downloads the pack of the last complete week for a unit', async () => {
    const base = defaultAnswers(Date.now());
    answer = (path, req) => (path === 'pack' ? { status: 200, data: new Blob(['xlsx']) } : base(path, req));
    renderApp('/a/minewatch-campaign-app/pack');
    const button = await screen.findByText('下载 Download');
    fireEvent.click(screen.getByLabelText('PDF'));
    fireEvent.click(button);
    await waitFor(() => expect(calls.some((c) => c.url.endsWith('/pack'))).toBe(true));
    const req = calls.find((c) => c.url.endsWith('/pack'))!;
    expect(req.params).toEqual({ week: recentWeeks(Date.now())[0], unit: 'zd-no1', format: 'pdf' });
  });
});

describe('helpers', () => {
  it('routes the app paths', () => {
    expect(route('/a/minewatch-campaign-app/cases')).toEqual({ page: 'cases' });
    expect(route('/a/minewatch-campaign-app')).toEqual({ page: 'cases' });
    expect(route('/a/minewatch-campaign-app/cases/c%2F1')).toEqual({ page: 'case', id: 'c/1' });
    expect(route('/a/minewatch-campaign-app/cases/c1/report')).toEqual({ page: 'report', id: 'c1' });
    expect(route('/a/minewatch-campaign-app/pack')).toEqual({ page: 'pack' });
  });
  it('counts ISO weeks in Beijing time', () => {
    // 2026-12-27 16:30 UTC is Monday 2026-12-28 00:30 in Beijing: week 53 of 2026.
    expect(isoWeek(Date.UTC(2026, 11, 27, 16, 30))).toBe('2026-W53');
    expect(isoWeek(Date.UTC(2026, 11, 27, 15, 30))).toBe('2026-W52');
    expect(isoWeek(Date.UTC(2027, 0, 4, 0, 0))).toBe('2027-W01');
    expect(recentWeeks(Date.UTC(2026, 11, 2), 2)).toEqual(['2026-W48', '2026-W47']);
  });
  it('words countdowns and file names', () => {
    const now = Date.UTC(2026, 11, 1);
    expect(countdown(new Date(now + 26 * H).toISOString(), now)).toEqual({ text: '剩 1天2小时 / 1d 2h left', overdue: false });
    expect(countdown(new Date(now - 90 * 60000).toISOString(), now)).toEqual({ text: '超期 1小时30分 / 1h 30m overdue', overdue: true });
    expect(countdown(undefined, now)).toBeUndefined();
    expect(fileName('attachment; filename="pack.xlsx"', 'x')).toBe('pack.xlsx');
    expect(fileName(null, 'fallback.docx')).toBe('fallback.docx');
  });
});
