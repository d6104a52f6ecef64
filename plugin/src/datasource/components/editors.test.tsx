import React from 'react';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { DataSourceSettings } from '@grafana/data';
import { QueryEditor } from './QueryEditor';
import { ConfigEditor } from './ConfigEditor';
import { VariableQueryEditor } from './VariableQueryEditor';
import { DataSource } from '../datasource';
import { MinewatchOptions, MinewatchQuery } from '../types';

async function choose(inputId: string, optionText: string) {
  const input = document.getElementById(inputId)!;
  fireEvent.keyDown(input, { key: 'ArrowDown' });
  fireEvent.click(await screen.findByText(optionText));
}

describe('QueryEditor', () => {
  it('switching query type updates the model and runs the query', async () => {
    const onChange = jest.fn();
    const onRunQuery = jest.fn();
    const query: MinewatchQuery = { refId: 'A', queryType: 'tracker', units: ['zd-no1'] };
    render(<QueryEditor query={query} onChange={onChange} onRunQuery={onRunQuery} datasource={{} as DataSource} />);
    expect(screen.getByText('IP清零台账 tracker')).toBeInTheDocument();
    await choose('minewatch-query-type', '周研判 weekly review');
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'weekly_review', units: ['zd-no1'] });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });
  it('shows the week field for weekly review and the expression for MetricsQL', () => {
    const props = { onChange: jest.fn(), onRunQuery: jest.fn(), datasource: {} as DataSource };
    const { rerender } = render(<QueryEditor {...props} query={{ refId: 'A', queryType: 'weekly_review', week: '2026-W47' }} />);
    fireEvent.change(screen.getByLabelText('周 Week'), { target: { value: '2026-W48' } });
    expect(props.onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'weekly_review', week: '2026-W48' });
    expect(props.onRunQuery).not.toHaveBeenCalled();
    rerender(<QueryEditor {...props} query={{ refId: 'A', queryType: 'metricsql', expr: '' }} />);
    expect(screen.queryByLabelText('周 Week')).toBeNull();
    fireEvent.change(screen.getByLabelText('表达式 Expression'), { target: { value: 'up' } });
    expect(props.onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'metricsql', expr: 'up' });
  });
});

// A datasource whose variables resource answers as the backend does (plugin/pkg/plugin resources).
function fakeDatasource(): DataSource {
  const rows: Record<string, Array<{ text: string; value: string }>> = {
    units: [{ text: '一中 zd-no1', value: 'zd-no1' }, { text: '二中 zd-no2', value: 'zd-no2' }],
    sectors: [{ text: '学校 school', value: 'school' }],
    districts: [],
    states: [{ text: '挖矿中 mining', value: 'mining' }, { text: '复发 relapsed', value: 'relapsed' }],
  };
  return { options: jest.fn(async (kind: string) => rows[kind] ?? []), variableNames: () => ['$unit'] } as unknown as DataSource;
}

describe('QueryEditor dropdowns', () => {
  it('offers the units of the variables resource and the dashboard variables', async () => {
    const onChange = jest.fn();
    const ds = fakeDatasource();
    render(<QueryEditor query={{ refId: 'A', queryType: 'tracker', states: ['relapsed'] }} onChange={onChange} onRunQuery={jest.fn()} datasource={ds} />);
    // the states' labels come from the resource
    expect(await screen.findByText('复发 relapsed')).toBeInTheDocument();
    expect(ds.options).toHaveBeenCalledWith('units');
    await choose('minewatch-units', '一中 zd-no1');
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'tracker', states: ['relapsed'], units: ['zd-no1'] });
    await choose('minewatch-units', '$unit');
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'tracker', states: ['relapsed'], units: ['$unit'] });
  });
  it('keeps a value the list does not hold, and works without a backend', async () => {
    render(<QueryEditor query={{ refId: 'A', queryType: 'tracker', units: ['$school'] }} onChange={jest.fn()} onRunQuery={jest.fn()} datasource={{} as DataSource} />);
    expect(await screen.findByText('$school')).toBeInTheDocument();
  });
  it('edits an annotation query: kind and IPs', () => {
    const onChange = jest.fn();
    render(<QueryEditor query={{ refId: 'Anno', queryType: 'annotations' }} onChange={onChange} onRunQuery={jest.fn()} datasource={fakeDatasource()} />);
    expect(screen.getByText('IP地址 IPs')).toBeInTheDocument();
    fireEvent.click(screen.getByText('处置记录 dispositions'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'Anno', queryType: 'annotations', annotationKind: 'dispositions' });
  });
  it('edits the min step of a MetricsQL query', () => {
    const onChange = jest.fn();
    render(<QueryEditor query={{ refId: 'A', queryType: 'metricsql', expr: 'up' }} onChange={onChange} onRunQuery={jest.fn()} datasource={fakeDatasource()} />);
    fireEvent.change(screen.getByLabelText('最小步长 Min step'), { target: { value: '5m' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'metricsql', expr: 'up', interval: '5m' });
  });
});

function settings(): DataSourceSettings<MinewatchOptions> {
  return {
    id: 1, uid: 'minewatch', orgId: 1, name: 'mw', type: 'minewatch-mining-datasource', typeName: '', typeLogoUrl: '',
    access: 'proxy', url: 'http://127.0.0.1:8428', user: '', database: '', basicAuth: false, basicAuthUser: '',
    isDefault: false, withCredentials: false, readOnly: false, jsonData: { quietPeriod: '7d' }, secureJsonFields: {},
  } as DataSourceSettings<MinewatchOptions>;
}

describe('ConfigEditor', () => {
  it('keeps secrets in secureJsonData, never in jsonData', () => {
    const onOptionsChange = jest.fn();
    render(<ConfigEditor options={settings()} onOptionsChange={onOptionsChange} />);
    fireEvent.change(screen.getByLabelText('令牌 Bearer token'), { target: { value: 's3cret' } });
    const next = onOptionsChange.mock.calls[0][0];
    expect(next.secureJsonData).toEqual({ bearerToken: 's3cret' });
    expect(JSON.stringify(next.jsonData)).not.toContain('s3cret');
    expect(next.jsonData).toEqual({ quietPeriod: '7d' });
  });
  it('writes campaign settings to jsonData', () => {
    const onOptionsChange = jest.fn();
    render(<ConfigEditor options={settings()} onOptionsChange={onOptionsChange} />);
    fireEvent.change(screen.getByLabelText('反复阈值 Relapse limit'), { target: { value: '3' } });
    expect(onOptionsChange.mock.calls[0][0].jsonData).toEqual({ quietPeriod: '7d', relapseLimit: 3 });
    fireEvent.click(screen.getByLabelText('隐藏责任人 Hide persons'));
    expect(onOptionsChange.mock.calls[1][0].jsonData).toEqual({ quietPeriod: '7d', hidePersons: true });
  });
});

describe('ConfigEditor data settings', () => {
  it('writes case store, ledger files and scrape interval to jsonData, the case store URL to secureJsonData', () => {
    const onOptionsChange = jest.fn();
    render(<ConfigEditor options={settings()} onOptionsChange={onOptionsChange} />);
    fireEvent.change(screen.getByLabelText('处置记录库 Case store'), { target: { value: '/var/lib/grafana/cases.db' } });
    expect(onOptionsChange.mock.calls[0][0].jsonData).toEqual({ quietPeriod: '7d', caseStore: '/var/lib/grafana/cases.db' });
    fireEvent.change(screen.getByLabelText('采集间隔 Scrape interval'), { target: { value: '1m' } });
    expect(onOptionsChange.mock.calls[1][0].jsonData).toEqual({ quietPeriod: '7d', timeInterval: '1m' });
    fireEvent.change(screen.getByLabelText('记录库地址(含密码) Store URL'), { target: { value: 'postgres://g:pw@db/cases' } });
    const next = onOptionsChange.mock.calls[2][0];
    expect(next.secureJsonData).toEqual({ caseStoreURL: 'postgres://g:pw@db/cases' });
    expect(JSON.stringify(next.jsonData)).not.toContain('pw@');
  });
});

describe('VariableQueryEditor', () => {
  it('filters the IP variable by unit ($unit)', async () => {
    const onChange = jest.fn();
    render(<VariableQueryEditor query={{ variableKind: 'ips' }} onChange={onChange} datasource={fakeDatasource()} />);
    // the resource's units arrive first, the variables follow them
    fireEvent.keyDown(document.getElementById('minewatch-variable-units')!, { key: 'ArrowDown' });
    expect(await screen.findByText('二中 zd-no2')).toBeInTheDocument();
    fireEvent.click(await screen.findByText('$unit'));
    expect(onChange).toHaveBeenLastCalledWith({ variableKind: 'ips', units: ['$unit'] }, 'minewatch ips unit=$unit');
  }, 20000);
  it('has no unit filter for weeks', async () => {
    render(<VariableQueryEditor query={{ variableKind: 'weeks' }} onChange={jest.fn()} datasource={fakeDatasource()} />);
    await waitFor(() => expect(screen.queryByLabelText('限定单位 Filter by unit')).toBeNull());
  });
  it('emits the chosen kind', async () => {
    const onChange = jest.fn();
    render(<VariableQueryEditor query={{ variableKind: 'units' }} onChange={onChange} />);
    await choose('minewatch-variable-kind', '周 weeks');
    expect(onChange).toHaveBeenCalledWith({ variableKind: 'weeks' }, 'minewatch weeks');
  });
});

describe('ConfigEditor trace and access lists', () => {
  it('writes lease files, accounting files and bureau users to jsonData, and leaves an emptied list out', () => {
    const onOptionsChange = jest.fn();
    const { rerender } = render(<ConfigEditor options={settings()} onOptionsChange={onOptionsChange} />);
    const add = (placeholder: string, value: string) => {
      const input = screen.getByPlaceholderText(placeholder);
      fireEvent.change(input, { target: { value } });
      fireEvent.keyDown(input, { key: 'Enter' });
    };
    add('/var/lib/kea/kea-leases4.csv', '/var/lib/kea/kea-leases4.csv');
    expect(onOptionsChange.mock.calls[0][0].jsonData).toEqual({ quietPeriod: '7d', leaseFiles: ['/var/lib/kea/kea-leases4.csv'] });
    add('/var/log/freeradius/radacct/nas/detail', '/var/log/radacct/detail');
    expect(onOptionsChange.mock.calls[1][0].jsonData).toEqual({ quietPeriod: '7d', accountingFiles: ['/var/log/radacct/detail'] });
    add('officer@bureau.example', 'wang@bureau.example');
    expect(onOptionsChange.mock.calls[2][0].jsonData).toEqual({ quietPeriod: '7d', bureauUsers: ['wang@bureau.example'] });

    // Removing the last entry leaves the key out (the backend's default), not [].
    const withUser = { ...settings(), jsonData: { quietPeriod: '7d', bureauUsers: ['wang@bureau.example'] } };
    rerender(<ConfigEditor options={withUser} onOptionsChange={onOptionsChange} />);
    fireEvent.click(screen.getByLabelText('Remove "wang@bureau.example" tag'));
    expect(onOptionsChange.mock.calls[3][0].jsonData).toEqual({ quietPeriod: '7d', bureauUsers: undefined });
  });
});
