import { DataSourceInstanceSettings, LegacyMetricFindQueryOptions, MetricFindValue, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv, TemplateSrv } from '@grafana/runtime';
import {
  DEFAULT_ANNOTATION_QUERY,
  DEFAULT_QUERY,
  MinewatchOptions,
  MinewatchQuery,
  VariableKind,
  VariableQuery,
} from './types';

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

// The macros the backend substitutes from the query's time range and step (plugin/pkg/plugin/macros.go).
const BACKEND_MACROS = ['__interval', '__interval_ms', '__rate_interval', '__rate_interval_ms', '__range', '__range_s', '__range_ms'];

function withoutBackendMacros(scopedVars: ScopedVars): ScopedVars {
  const out: ScopedVars = { ...scopedVars };
  for (const name of BACKEND_MACROS) {
    delete out[name];
  }
  return out;
}

/** One option of a variable or dropdown, as the variables resource returns it. */
export interface VariableOption {
  text: string;
  value?: string;
}

export class DataSource extends DataSourceWithBackend<MinewatchQuery, MinewatchOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<MinewatchOptions>, private readonly templateSrv: TemplateSrv = getTemplateSrv()) {
    super(instanceSettings);
    // The scrape interval is the lower limit of $__interval, as for Grafana's Prometheus datasource.
    this.interval = instanceSettings.jsonData?.timeInterval || undefined;
    // Annotations (mining episodes, dispositions) through Grafana's standard support: the annotation
    // query is a query of type "annotations", its frame has the fields time, timeEnd, title, text, tags.
    this.annotations = {
      getDefaultQuery: () => DEFAULT_ANNOTATION_QUERY,
    };
  }

  getDefaultQuery(): Partial<MinewatchQuery> {
    return DEFAULT_QUERY;
  }

  applyTemplateVariables(query: MinewatchQuery, scopedVars: ScopedVars): MinewatchQuery {
    const srv = this.templateSrv;
    // Grafana puts $__interval (the frontend's interval) into the panel's scoped variables; the
    // backend substitutes it with the step it really uses, so it is kept out here (as Grafana's
    // Prometheus datasource does).
    const exprVars = withoutBackendMacros(scopedVars);
    return {
      ...query,
      units: expandList(query.units, scopedVars, srv),
      sectors: expandList(query.sectors, scopedVars, srv),
      districts: expandList(query.districts, scopedVars, srv),
      ...(query.ips ? { ips: expandList(query.ips, scopedVars, srv) } : {}),
      week: query.week ? srv.replace(query.week, scopedVars) : query.week,
      // MetricsQL text: the backend escapes label values; here only plain substitution. $__range,
      // $__interval and $__rate_interval are left for the backend, which knows the step it uses.
      expr: query.expr ? srv.replace(query.expr, exprVars) : query.expr,
      ...(query.interval ? { interval: srv.replace(query.interval, exprVars) } : {}),
    };
  }

  filterQuery(query: MinewatchQuery): boolean {
    return query.queryType !== 'metricsql' || Boolean(query.expr);
  }

  /** Options of the variables resource: kind, optional unit filter, and the time range (Unix ms). */
  async options(kind: VariableKind, units: string[] = [], range?: { from: number; to: number }): Promise<VariableOption[]> {
    const params: Record<string, string | number | string[]> = { kind };
    if (units.length > 0) {
      params.unit = units;
    }
    if (range) {
      params.from = range.from;
      params.to = range.to;
    }
    const rows: VariableOption[] = await this.getResource('variables', params);
    return rows ?? [];
  }

  /** The dashboard's variables as "$name", for the editors' dropdowns. */
  variableNames(): string[] {
    try {
      return (this.templateSrv.getVariables?.() ?? []).map((v) => `$${v.name}`);
    } catch {
      return [];
    }
  }

  async metricFindQuery(query: VariableQuery | string, options?: LegacyMetricFindQueryOptions): Promise<MetricFindValue[]> {
    const q: VariableQuery = typeof query === 'string' ? { variableKind: (query || 'units') as VariableKind } : query;
    const units = expandList(q.units, options?.scopedVars ?? {}, this.templateSrv);
    const range = options?.range ? { from: options.range.from.valueOf(), to: options.range.to.valueOf() } : undefined;
    const rows = await this.options(q.variableKind, units, range);
    return rows.map((r) => ({ text: r.text, value: r.value ?? r.text }));
  }
}
