import { DataSourceInstanceSettings, dateTime, ScopedVars } from '@grafana/data';
import { TemplateSrv } from '@grafana/runtime';
import { DataSource } from './datasource';
import { MinewatchOptions, MinewatchQuery } from './types';

// A template service that behaves like Grafana's for the variables used here: scoped variables
// (the panel's, e.g. $__interval) first, then the dashboard's.
const vars: Record<string, string | string[]> = { unit: ['zd-no1', 'zd-no2'], week: '2026-W47', one: 'jk-x' };
const templateSrv = {
  replace: (target: string, scoped?: ScopedVars, format?: unknown) =>
    target.replace(/\$(\w+)/g, (_m, name: string) => {
      const v = (scoped?.[name]?.value as string | undefined) ?? vars[name];
      if (v === undefined) {
        return _m;
      }
      if (typeof format === 'function') {
        return format(v);
      }
      return Array.isArray(v) ? `{${v.join(',')}}` : v;
    }),
} as unknown as TemplateSrv;

const settings = { id: 1, uid: 'minewatch', type: 'minewatch-mining-datasource', name: 'mw', jsonData: {} } as unknown as DataSourceInstanceSettings<MinewatchOptions>;
const withJson = (jsonData: MinewatchOptions) => ({ ...settings, jsonData }) as DataSourceInstanceSettings<MinewatchOptions>;

describe('applyTemplateVariables', () => {
  const ds = new DataSource(settings, templateSrv);
  it('expands multi-value variables into array entries', () => {
    const q: MinewatchQuery = { refId: 'A', queryType: 'tracker', units: ['$unit', 'literal', '$one'], sectors: [], districts: [] };
    const out = ds.applyTemplateVariables(q, {});
    expect(out.units).toEqual(['zd-no1', 'zd-no2', 'literal', 'jk-x']);
    expect(out.units!.some((u) => u.includes('|') || u.includes(',') || u.includes('{'))).toBe(false);
  });
  it('interpolates week and expr, keeps other fields', () => {
    const q: MinewatchQuery = { refId: 'B', queryType: 'weekly_review', week: '$week', expr: 'x{week="$week"}', units: undefined };
    const out = ds.applyTemplateVariables(q, {});
    expect(out.week).toBe('2026-W47');
    expect(out.expr).toBe('x{week="2026-W47"}');
    expect(out.queryType).toBe('weekly_review');
    expect(out.units).toEqual([]);
  });
  it('metricFindQuery asks the variables resource', async () => {
    const spy = jest.spyOn(ds, 'getResource').mockResolvedValue([{ text: '一中', value: 'zd-no1' }, { text: 'w' }]);
    const got = await ds.metricFindQuery({ variableKind: 'units' });
    expect(spy).toHaveBeenCalledWith('variables', { kind: 'units' });
    expect(got).toEqual([{ text: '一中', value: 'zd-no1' }, { text: 'w', value: 'w' }]);
  });
  it('the IP variable follows $unit and the dashboard time range', async () => {
    const spy = jest.spyOn(ds, 'getResource').mockResolvedValue([{ text: '10.1.0.1 (zd-no1)', value: '10.1.0.1' }]);
    const range = { from: dateTime(1793548800000), to: dateTime(1794153600000), raw: { from: 'now-7d', to: 'now' } };
    const got = await ds.metricFindQuery({ variableKind: 'ips', units: ['$unit'] }, { range, scopedVars: {} });
    expect(spy).toHaveBeenLastCalledWith('variables', { kind: 'ips', unit: ['zd-no1', 'zd-no2'], from: 1793548800000, to: 1794153600000 });
    expect(got).toEqual([{ text: '10.1.0.1 (zd-no1)', value: '10.1.0.1' }]);
  });
  it('expands $ip of annotation queries and the min step, leaves $__range to the backend', () => {
    const q: MinewatchQuery = { refId: 'C', queryType: 'annotations', ips: ['$one'], units: ['$unit'] };
    expect(ds.applyTemplateVariables(q, {})).toMatchObject({ ips: ['jk-x'], units: ['zd-no1', 'zd-no2'] });
    const m: MinewatchQuery = { refId: 'D', queryType: 'metricsql', expr: 'max_over_time(x{unit="$one"}[$__range])', interval: '$one' };
    expect(ds.applyTemplateVariables(m, {})).toMatchObject({ expr: 'max_over_time(x{unit="jk-x"}[$__range])', interval: 'jk-x' });
    expect(ds.applyTemplateVariables({ refId: 'E', queryType: 'tracker' }, {}).ips).toBeUndefined();
    // Grafana's panel scoped vars hold the frontend's $__interval: the backend's step wins.
    const scoped = { __interval: { text: '1m', value: '1m' }, __interval_ms: { text: '60000', value: 60000 }, one: { text: 'z', value: 'z' } };
    const r: MinewatchQuery = { refId: 'F', queryType: 'metricsql', expr: 'rate(x{u="$one"}[$__interval]) $__interval_ms' };
    expect(ds.applyTemplateVariables(r, scoped).expr).toBe('rate(x{u="z"}[$__interval]) $__interval_ms');
  });
});

describe('annotations and intervals', () => {
  it('supports annotations with the annotations query type by default', () => {
    const ds = new DataSource(settings, templateSrv);
    expect(ds.annotations).toBeDefined();
    expect(ds.annotations!.getDefaultQuery!()).toEqual({ queryType: 'annotations' });
  });
  it('takes the scrape interval as the lower limit of $__interval', () => {
    expect(new DataSource(withJson({ timeInterval: '1m' }), templateSrv).interval).toBe('1m');
    expect(new DataSource(settings, templateSrv).interval).toBeUndefined();
  });
});
