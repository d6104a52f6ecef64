import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

export type QueryType = 'tracker' | 'weekly_review' | 'situation' | 'pools' | 'metricsql' | 'variable' | 'annotations';
export type AnnotationKind = 'episodes' | 'dispositions';
export type VariableKind = 'units' | 'sectors' | 'districts' | 'weeks' | 'ips' | 'states';

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
  /** MetricsQL min step ("5m"); empty = the scrape interval. */
  interval?: string;
  /** Annotations of these IPs only (the IP dashboard's $ip). */
  ips?: string[];
  /** Annotations: episodes, dispositions, or both when unset. */
  annotationKind?: AnnotationKind;
}

export const DEFAULT_QUERY: Partial<MinewatchQuery> = { queryType: 'tracker' };
export const DEFAULT_ANNOTATION_QUERY: Partial<MinewatchQuery> = { queryType: 'annotations' };

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
  /** Case store: a SQLite file path, or a postgres:// URL without password (secureJsonData caseStoreURL holds a full one). */
  caseStore?: string;
  /** Unit/asset ledger files (YAML or CSV) the tracker takes device and person from. */
  ledgerFiles?: string[];
  /** DHCP lease files (Kea CSV, ISC dhcpd.leases, dnsmasq) that trace an IP to its MAC. */
  leaseFiles?: string[];
  /** FreeRADIUS detail files that trace an IP to its account. */
  accountingFiles?: string[];
  /** Grafana logins or emails of bureau staff (see every unit; org Admins always do). */
  bureauUsers?: string[];
  /** Scrape interval, as Grafana's Prometheus datasource names it: the smallest step, the base of $__rate_interval. */
  timeInterval?: string;
}

/** Secrets: only ever in secureJsonData. */
export interface MinewatchSecureOptions {
  bearerToken?: string;
  basicAuthPassword?: string;
  caseStoreURL?: string;
}

export interface VariableQuery {
  variableKind: VariableKind;
  /** Only values of these units (e.g. $unit for the IP variable). */
  units?: string[];
}
