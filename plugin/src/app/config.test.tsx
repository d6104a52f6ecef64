// The configuration page against a fake backendSrv answering Grafana's plugin settings API
// (POST /api/plugins/<id>/settings) and the datasource's health check as Grafana relays it
// (GET /api/datasources/uid/<uid>/health: 200, or 400 with the same body when the check says ERROR).
import React from 'react';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { PluginType } from '@grafana/data';
import { setBackendSrv, setDataSourceSrv } from '@grafana/runtime';
import { defer } from 'rxjs';
import { AppConfig, AppConfigProps, afterSave } from './AppConfig';

interface Req {
  url: string;
  method: string;
  data?: unknown;
}
type Answer = { status: number; data?: unknown };

// The first render of @grafana/ui's Select on a loaded 2-core machine can pass jest's 5 s default;
// nothing here is timed, this only caps how long a hung test waits.
jest.setTimeout(60000);

let calls: Req[];
let answer: (req: Req) => Answer;

const logo = { small: 'x.svg', large: 'x.svg' };
const dsMeta = (id: string) => ({ id, name: id, info: { logos: logo }, metrics: true });
// Two minewatch datasources and a Prometheus one the picker must not offer.
const datasources = [
  { uid: 'minewatch', name: 'minewatch 挖矿监测', type: 'minewatch-mining-datasource', meta: dsMeta('minewatch-mining-datasource') },
  { uid: 'mw-district', name: 'minewatch 区县', type: 'minewatch-mining-datasource', meta: dsMeta('minewatch-mining-datasource') },
  { uid: 'prom', name: 'Prometheus', type: 'prometheus', meta: dsMeta('prometheus') },
];

// Grafana's DatasourceSrv as far as the page uses it: getList honours pluginId, getInstanceSettings
// takes a uid or a name (the picker's options carry the name).
function fakeDatasourceSrv() {
  setDataSourceSrv({
    getList: (f: { pluginId?: string } = {}) => datasources.filter((d) => !f.pluginId || d.meta.id === f.pluginId),
    getInstanceSettings: (ref?: string | null) => datasources.find((d) => d.uid === ref || d.name === ref),
  } as never);
}

function fakeBackend() {
  calls = [];
  setBackendSrv({
    fetch: (req: Req) =>
      defer(async () => {
        calls.push(req);
        const a = answer(req);
        if (a.status >= 400) {
          throw { status: a.status, data: a.data, statusText: 'error' };
        }
        return { status: a.status, ok: true, data: a.data, headers: { get: () => null } };
      }),
  } as never);
}

const healthy = {
  status: 'OK',
  message: 'VictoriaMetrics 连接正常 connected',
  details: {
    victoriaMetrics: { configured: true, ok: true, where: 'http://vm:8428', message: 'VictoriaMetrics 连接正常 connected' },
    caseStore: { configured: false, ok: true, message: '未配置案件库 (caseStore)：单位负责人不能在页面登记处置、提交书面报告 / no case store' },
    ledger: { configured: true, ok: false, units: 3, leads: 0, message: '台账已读取：3 个单位，其中 0 个登记了负责人邮箱' },
    scope: '全部单位 all units',
    bureauUsers: 1,
  },
};
const me = { login: 'admin', email: 'admin@edu.example', name: 'admin', role: 'Admin', bureau: true, units: [{ id: 'u-a', name: '一中' }] };

function answers(over: (req: Req) => Answer | undefined = () => undefined) {
  return (req: Req): Answer => {
    const o = over(req);
    if (o) {
      return o;
    }
    if (req.url.endsWith('/health')) {
      return { status: 200, data: healthy };
    }
    if (req.url.endsWith('/resources/me')) {
      return { status: 200, data: me };
    }
    if (req.url === '/api/plugins/minewatch-campaign-app/settings' && req.method === 'POST') {
      return { status: 200, data: { message: 'Plugin settings updated' } };
    }
    return { status: 404, data: { message: 'Not found' } };
  };
}

function renderConfig(meta: Record<string, unknown>) {
  const plugin = { meta: { id: 'minewatch-campaign-app', name: 'minewatch', type: PluginType.app, info: {}, ...meta } };
  return render(<AppConfig {...({ plugin, query: {} } as unknown as AppConfigProps)} />);
}

let reloads: number;
beforeEach(() => {
  fakeDatasourceSrv();
  fakeBackend();
  answer = answers();
  reloads = 0;
  afterSave.reload = () => {
    reloads++;
  };
});

describe('配置 Configuration', () => {
  it('offers only minewatch datasources and saves the chosen one as jsonData.datasourceUid', async () => {
    renderConfig({ enabled: false, pinned: false, jsonData: { other: 'kept' } });
    // Unset: the provisioned uid minewatch is what the pages use, and its status is shown.
    expect(screen.getByTestId('minewatch-ds-default')).toHaveTextContent('minewatch 挖矿监测 (minewatch)');
    await waitFor(() => expect(calls.some((c) => c.url === '/api/datasources/uid/minewatch/health')).toBe(true));
    fireEvent.keyDown(document.getElementById('minewatch-datasource')!, { key: 'ArrowDown' });
    expect(await screen.findByText('minewatch 区县')).toBeInTheDocument();
    expect(screen.queryByText('Prometheus')).not.toBeInTheDocument();
    fireEvent.click(screen.getByText('minewatch 区县'));
    // The status follows the choice before it is saved.
    await waitFor(() => expect(calls.some((c) => c.url === '/api/datasources/uid/mw-district/health')).toBe(true));
    fireEvent.click(screen.getByRole('switch'));
    fireEvent.click(screen.getByText('保存设置 Save settings'));
    await waitFor(() => expect(reloads).toBe(1));
    await waitFor(() => expect(screen.getByTestId('minewatch-status')).toHaveAttribute('data-busy', 'false'));
    const post = calls.find((c) => c.method === 'POST')!;
    expect(post.url).toBe('/api/plugins/minewatch-campaign-app/settings');
    expect(post.data).toEqual({ enabled: true, pinned: true, jsonData: { other: 'kept', datasourceUid: 'mw-district' } });
  });

  it('says per part what is reachable and what to fix', async () => {
    renderConfig({ enabled: true, pinned: true, jsonData: { datasourceUid: 'mw-district' } });
    const vm = await screen.findByRole('row', { name: /VictoriaMetrics 时序库/ });
    expect(vm).toHaveAttribute('data-state', 'ok');
    expect(vm).toHaveTextContent('http://vm:8428');
    const store = screen.getByRole('row', { name: /案件库 Case store/ });
    expect(store).toHaveAttribute('data-state', 'unset');
    expect(store).toHaveTextContent('处理 Fix：在数据源设置中填写 caseStore');
    const ledger = screen.getByRole('row', { name: /台账 Ledger/ });
    expect(ledger).toHaveAttribute('data-state', 'failed');
    expect(ledger).toHaveTextContent('在台账 units[].lead.email 中填写');
    expect(await screen.findByTestId('minewatch-me')).toHaveTextContent('admin（Admin） · 教育局 Bureau · 1 个单位');
    expect(screen.getByText('打开数据源设置 Open the datasource settings')).toHaveAttribute('href', '/connections/datasources/edit/mw-district');
    await waitFor(() => expect(screen.getByTestId('minewatch-status')).toHaveAttribute('data-busy', 'false'));
  });

  it('reads a failing check from Grafana\'s 400 and a backend that did not start from its 500', async () => {
    const failing = {
      ...healthy,
      status: 'ERROR',
      details: { ...healthy.details, victoriaMetrics: { configured: true, ok: false, where: 'http://vm:1', message: 'VictoriaMetrics 查询失败 query failed' } },
    };
    answer = answers((r) => (r.url.endsWith('/health') ? { status: 400, data: failing } : undefined));
    const { unmount } = renderConfig({ enabled: true, jsonData: {} });
    const vm = await screen.findByRole('row', { name: /VictoriaMetrics 时序库/ });
    expect(vm).toHaveAttribute('data-state', 'failed');
    expect(vm).toHaveTextContent('在数据源设置中检查 URL');
    unmount();
    answer = answers((r) => (r.url.endsWith('/health') ? { status: 500, data: { message: 'Plugin health check failed' } } : undefined));
    renderConfig({ enabled: true, jsonData: {} });
    expect(await screen.findByText('数据源后端没有回应 / the datasource backend did not answer (500): Plugin health check failed')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('minewatch-status')).toHaveAttribute('data-busy', 'false'));
  });

  it('shows why a save was refused and stays on the page', async () => {
    answer = answers((r) =>
      r.method === 'POST' ? { status: 403, data: { message: "You'll need additional permissions to perform this action. Permissions needed: plugins:write" } } : undefined
    );
    renderConfig({ enabled: true, pinned: true, jsonData: { datasourceUid: 'minewatch' } });
    fireEvent.click(screen.getByText('保存设置 Save settings'));
    expect(
      await screen.findByText("保存失败 Save failed (403): You'll need additional permissions to perform this action. Permissions needed: plugins:write")
    ).toBeInTheDocument();
    expect(screen.getByText('需要 Grafana 组织管理员 (Admin) 或 plugins:write 权限 / needs org Admin (plugins:write)')).toBeInTheDocument();
    expect(calls.find((c) => c.method === 'POST')!.data).toEqual({ enabled: true, pinned: true, jsonData: { datasourceUid: 'minewatch' } });
    expect(reloads).toBe(0);
    await waitFor(() => expect(screen.getByTestId('minewatch-status')).toHaveAttribute('data-busy', 'false'));
  });

  it('warns when the saved datasource is gone or none exists', async () => {
    answer = answers((r) => (r.url === '/api/datasources/uid/deleted/health' ? { status: 404, data: { message: 'Data source not found' } } : undefined));
    const { unmount } = renderConfig({ enabled: true, jsonData: { datasourceUid: 'deleted' } });
    expect(screen.getByText('已保存的数据源 deleted 不存在 / the saved datasource deleted does not exist')).toBeInTheDocument();
    expect(await screen.findByText('Grafana 中没有这个数据源 / no such datasource in Grafana (404): Data source not found')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('minewatch-status')).toHaveAttribute('data-busy', 'false'));
    unmount();
    setDataSourceSrv({ getList: () => [], getInstanceSettings: () => undefined } as never);
    calls = [];
    renderConfig({ enabled: true, jsonData: {} });
    expect(screen.getByText('还没有 minewatch-mining-datasource 数据源：先在 连接 → 数据源 中添加 / no minewatch datasource yet: add one under Connections → Data sources')).toBeInTheDocument();
    expect(screen.queryByTestId('minewatch-status')).not.toBeInTheDocument();
    expect(calls).toEqual([]);
  });
});
