import { DataSourceInstanceSettings, ScopedVars } from '@grafana/data';
import { TemplateSrv } from '@grafana/runtime';
import { DataSource } from './datasource';
import { MinewatchOptions, MinewatchQuery } from './types';

// A template service that behaves like Grafana's for the two variables used here.
const vars: Record<string, string | string[]> = { unit: ['zd-no1', 'zd-no2'], week: '2026-W47', one: 'jk-x' };
const templateSrv = {
  replace: (target: string, _scoped?: ScopedVars, format?: unknown) =>
    target.replace(/\$(\w+)/g, (_m, name: string) => {
      const v = vars[name];
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
});
