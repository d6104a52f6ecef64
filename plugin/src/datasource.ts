import { DataSourceInstanceSettings, MetricFindValue, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv, TemplateSrv } from '@grafana/runtime';
import { DEFAULT_QUERY, MinewatchOptions, MinewatchQuery, VariableKind, VariableQuery } from './types';

// Separator that cannot occur in a unit id or week; multi-value variables are joined with it, then split.
const SEP = '\u001f';

const joinValues = (value: unknown): string =>
  Array.isArray(value) ? value.map(String).join(SEP) : String(value ?? '');

/** Interpolates each entry; a multi-value variable becomes several entries, never one regex string. */
export function expandList(values: string[] | undefined, scopedVars: ScopedVars, srv: TemplateSrv): string[] {
  const out: string[] = [];
  for (const v of values ?? []) {
    for (const part of srv.replace(v, scopedVars, joinValues).split(SEP)) {
      const s = part.trim();
      if (s !== '' && !out.includes(s)) {
        out.push(s);
      }
    }
  }
  return out;
}

export class DataSource extends DataSourceWithBackend<MinewatchQuery, MinewatchOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<MinewatchOptions>, private readonly templateSrv: TemplateSrv = getTemplateSrv()) {
    super(instanceSettings);
  }

  getDefaultQuery(): Partial<MinewatchQuery> {
    return DEFAULT_QUERY;
  }

  applyTemplateVariables(query: MinewatchQuery, scopedVars: ScopedVars): MinewatchQuery {
    const srv = this.templateSrv;
    return {
      ...query,
      units: expandList(query.units, scopedVars, srv),
      sectors: expandList(query.sectors, scopedVars, srv),
      districts: expandList(query.districts, scopedVars, srv),
      week: query.week ? srv.replace(query.week, scopedVars) : query.week,
      // MetricsQL text: the backend escapes label values; here only plain substitution.
      expr: query.expr ? srv.replace(query.expr, scopedVars) : query.expr,
    };
  }

  filterQuery(query: MinewatchQuery): boolean {
    return query.queryType !== 'metricsql' || Boolean(query.expr);
  }

  async metricFindQuery(query: VariableQuery | string): Promise<MetricFindValue[]> {
    const kind: VariableKind = typeof query === 'string' ? ((query || 'units') as VariableKind) : query.variableKind;
    const rows: Array<{ text: string; value?: string }> = await this.getResource('variables', { kind });
    return (rows ?? []).map((r) => ({ text: r.text, value: r.value ?? r.text }));
  }
}
