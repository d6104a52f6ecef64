import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
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

describe('VariableQueryEditor', () => {
  it('emits the chosen kind', async () => {
    const onChange = jest.fn();
    render(<VariableQueryEditor query={{ variableKind: 'units' }} onChange={onChange} />);
    await choose('minewatch-variable-kind', '周 weeks');
    expect(onChange).toHaveBeenCalledWith({ variableKind: 'weeks' }, 'minewatch weeks');
  });
});
