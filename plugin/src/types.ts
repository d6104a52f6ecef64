import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

export type QueryType = 'tracker' | 'weekly_review' | 'situation' | 'pools' | 'metricsql' | 'variable';
export type VariableKind = 'units' | 'sectors' | 'districts' | 'weeks' | 'ips';

/** Query model; field names are the contract with the Go backend (plugin/pkg/models). */
export interface MinewatchQuery extends DataQuery {
  queryType: QueryType;
  units?: string[];
  sectors?: string[];
  districts?: string[];
  states?: string[];
  week?: string;
  groupBy?: 'unit' | 'sector' | 'district' | 'total';
  expr?: string;
  legendFormat?: string;
  format?: 'table' | 'time_series';
  variableKind?: VariableKind;
}

export const DEFAULT_QUERY: Partial<MinewatchQuery> = { queryType: 'tracker' };

export interface MinewatchOptions extends DataSourceJsonData {
  quietPeriod?: string;
  locateDeadline?: string;
  reportDeadline?: string;
  timezone?: string;
  relapseLimit?: number;
  scopeUnits?: string[];
  hidePersons?: boolean;
  timeout?: string;
  basicAuthUser?: string;
}

/** Secrets: only ever in secureJsonData. */
export interface MinewatchSecureOptions {
  bearerToken?: string;
  basicAuthPassword?: string;
}

export interface VariableQuery {
  variableKind: VariableKind;
}
