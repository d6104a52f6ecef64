// The case API of the bundled datasource's backend (its resource handler), reached the way Grafana
// proxies a datasource's resources: /api/datasources/uid/<uid>/resources/<path>. Grafana adds the
// signed-in user to each call, so the backend knows the author and the unit scope; the frontend
// decides nothing about who may do what, it shows what the backend answers (403 included).
import { getBackendSrv, getDataSourceSrv } from '@grafana/runtime';
import { lastValueFrom } from 'rxjs';

/** The datasource this app bundles (dist/datasource/plugin.json). */
export const DATASOURCE_TYPE = 'minewatch-mining-datasource';
/** The uid deploy/ provisions it with; the app's jsonData.datasourceUid overrides. */
export const PROVISIONED_UID = 'minewatch';

export interface Unit {
  id: string;
  name: string;
}

export interface Me {
  login: string;
  email: string;
  name: string;
  role: string;
  bureau: boolean;
  units: Unit[];
}

export type Stage = 'located' | 'reported' | 'closed';
export type CaseClass = '主动' | '被动' | '科研';

export interface CaseSummary {
  id: string;
  ip: string;
  unit: string;
  unitName: string;
  source: 'detected' | 'notice' | 'manual' | string;
  state: string;
  deviceKey?: string;
  device?: string;
  person?: string;
  opened: string;
  locateDue: string;
  reportDue: string;
  located?: string;
  reported?: string;
  closed?: string;
  overdue: boolean;
  maxScore?: number;
}

export interface TimelineEntry {
  at: string;
  stage: string;
  class?: string;
  note?: string;
  author?: string;
  authorRole?: string;
  via?: string;
}

export interface Notice {
  number?: string;
  egress?: string;
  window?: string;
  remote?: string;
  receivedAt?: string;
}

export interface TraceLink {
  link: string;
  value: string;
  how?: string;
  confidence?: string | number;
}

export interface Reason {
  signal: string;
  label: string;
  points: number;
}

export interface Attachment {
  /** The store's attachment id (a number in the API's JSON). */
  id: string | number;
  name: string;
  size: number;
  sha256?: string;
  by?: string;
  at?: string;
}

export interface CaseDetail {
  case: CaseSummary;
  timeline: TimelineEntry[];
  notices: Notice[];
  trace: TraceLink[];
  evidence?: { score?: number; reasons?: Reason[]; firstSeen?: string; lastSeen?: string };
  attachments: Attachment[];
  audit?: { ok: boolean; entries: number };
}

export interface Disposition {
  caseId: string;
  ip: string;
  unit: string;
  stage: Stage;
  class: CaseClass;
  note: string;
}

export interface ReportFields {
  cause: string;
  measures: string;
  reporter: string;
  phone: string;
}

export interface PackQuery {
  week: string;
  unit?: string;
  district?: string;
  format: 'xlsx' | 'pdf';
}

export interface FileDownload {
  blob: Blob;
  name: string;
}

/** A written report POSTed: the document, and the store's id of its case (X-Minewatch-Case-Id). */
export interface ReportDownload extends FileDownload {
  /** The case the report is stored with: a new id when a d~<unit>~<ip> case was opened by it. */
  caseId: string;
}

/** What POST dispositions answers: the record's id and the store case's id, as a string. */
export interface Recorded {
  id: string;
  caseId: string;
}

/** What the backend refused or failed with: its {"error"} text and the HTTP status. */
export class ApiError extends Error {
  constructor(
    message: string,
    public status: number
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The datasource uid: the app's setting, else the first datasource of the bundled type. */
export function datasourceUid(jsonData?: { datasourceUid?: string }): string {
  if (jsonData?.datasourceUid) {
    return jsonData.datasourceUid;
  }
  const list = getDataSourceSrv().getList({ type: DATASOURCE_TYPE });
  const provisioned = list.find((d) => d.uid === PROVISIONED_UID);
  const ds = provisioned ?? list[0];
  if (!ds) {
    throw new ApiError(`未找到 ${DATASOURCE_TYPE} 数据源 / no ${DATASOURCE_TYPE} datasource is configured`, 0);
  }
  return ds.uid;
}

async function errorText(data: unknown): Promise<string | undefined> {
  let d = data;
  if (typeof Blob !== 'undefined' && d instanceof Blob) {
    d = await d.text();
  }
  if (typeof d === 'string') {
    const text = d;
    try {
      d = JSON.parse(text);
    } catch {
      return text || undefined;
    }
  }
  if (d && typeof d === 'object') {
    const o = d as { error?: string; message?: string };
    return o.error ?? o.message;
  }
  return undefined;
}

async function toApiError(e: unknown): Promise<ApiError> {
  const err = e as { status?: number; data?: unknown; statusText?: string; message?: string };
  const status = err?.status ?? 0;
  const text = (await errorText(err?.data)) ?? err?.statusText ?? err?.message ?? String(e);
  return new ApiError(text, status);
}

/** File name from Content-Disposition (RFC 6266 filename*, else filename), else the fallback. */
export function fileName(disposition: string | null | undefined, fallback: string): string {
  if (disposition) {
    const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition);
    if (star) {
      try {
        return decodeURIComponent(star[1].trim());
      } catch {
        // fall through to filename=
      }
    }
    const plain = /filename\s*=\s*"?([^";]+)"?/.exec(disposition);
    if (plain) {
      return plain[1].trim();
    }
  }
  return fallback;
}

export class CaseApi {
  constructor(public readonly uid: string) {}

  private url(path: string): string {
    return `/api/datasources/uid/${encodeURIComponent(this.uid)}/resources/${path}`;
  }

  private async call<T>(method: string, path: string, opts: { params?: Record<string, string>; data?: unknown; blob?: boolean } = {}) {
    try {
      return await lastValueFrom(
        getBackendSrv().fetch<T>({
          url: this.url(path),
          method,
          params: opts.params,
          data: opts.data,
          responseType: opts.blob ? 'blob' : 'json',
          // The pages show the backend's own message where the user acted.
          showErrorAlert: false,
          showSuccessAlert: false,
        })
      );
    } catch (e) {
      throw await toApiError(e);
    }
  }

  private async file(method: string, path: string, fallback: string, opts: { params?: Record<string, string>; data?: unknown }) {
    const res = await this.call<Blob>(method, path, { ...opts, blob: true });
    const name = fileName(res.headers?.get?.('content-disposition'), fallback);
    return { file: { blob: res.data, name } as FileDownload, headers: res.headers };
  }

  async me(): Promise<Me> {
    return (await this.call<Me>('GET', 'me')).data;
  }

  async cases(state: 'open' | 'all', unit?: string): Promise<CaseSummary[]> {
    const params: Record<string, string> = { state };
    if (unit) {
      params.unit = unit;
    }
    return (await this.call<CaseSummary[]>('GET', 'cases', { params })).data ?? [];
  }

  async case(id: string): Promise<CaseDetail> {
    return (await this.call<CaseDetail>('GET', `cases/${encodeURIComponent(id)}`)).data;
  }

  /** Records a disposition; the answer's ids are numbers in the JSON, strings here like every case id. */
  async dispose(d: Disposition): Promise<Recorded> {
    const r = (await this.call<{ id: string | number; caseId: string | number }>('POST', 'dispositions', { data: d })).data;
    return { id: String(r.id), caseId: r.caseId === undefined || r.caseId === null ? d.caseId : String(r.caseId) };
  }

  /** Posts the completed report; the store's case id comes back in X-Minewatch-Case-Id. */
  async report(id: string, fields: ReportFields): Promise<ReportDownload> {
    const { file, headers } = await this.file('POST', `cases/${encodeURIComponent(id)}/report`, `书面报告-${id}.docx`, {
      data: { format: 'docx', fields },
    });
    return { ...file, caseId: headers?.get?.('x-minewatch-case-id') || id };
  }

  async attachment(id: string, a: Attachment): Promise<FileDownload> {
    return (await this.file('GET', `cases/${encodeURIComponent(id)}/attachments/${encodeURIComponent(String(a.id))}`, a.name, {})).file;
  }

  async pack(q: PackQuery): Promise<FileDownload> {
    const params: Record<string, string> = { week: q.week, format: q.format };
    if (q.district) {
      params.district = q.district;
    } else if (q.unit) {
      params.unit = q.unit;
    }
    const scope = q.district ?? q.unit ?? 'all';
    return (await this.file('GET', 'pack', `周会材料-${q.week}-${scope}.${q.format}`, { params })).file;
  }

  async districts(): Promise<Array<{ text: string; value?: string }>> {
    return (await this.call<Array<{ text: string; value?: string }>>('GET', 'variables', { params: { kind: 'districts' } })).data ?? [];
  }
}

/** One part of the datasource's health (plugin/pkg/plugin/health.go PartHealth). */
export interface PartHealth {
  configured: boolean;
  ok: boolean;
  where?: string;
  message: string;
  units?: number;
  leads?: number;
}

/** What Grafana's GET /api/datasources/uid/<uid>/health answers for this datasource. */
export interface DatasourceHealth {
  /** "OK" or "ERROR" (the backend's CheckHealth status). */
  status: string;
  message: string;
  details?: {
    victoriaMetrics?: PartHealth;
    caseStore?: PartHealth;
    ledger?: PartHealth;
    scope?: string;
    bureauUsers?: number;
  };
}

/**
 * The datasource's health check as Grafana answers it: 200 when OK, 400 with the same body when the
 * check says ERROR (returned, not thrown); any other failure (the backend did not start, no
 * permission) is thrown as an ApiError with Grafana's message.
 */
export async function checkHealth(uid: string): Promise<DatasourceHealth> {
  try {
    const res = await lastValueFrom(
      getBackendSrv().fetch<DatasourceHealth>({ url: `/api/datasources/uid/${encodeURIComponent(uid)}/health`, method: 'GET', showErrorAlert: false })
    );
    return res.data;
  } catch (e) {
    const err = e as { status?: number; data?: DatasourceHealth };
    if (err?.status === 400 && err.data && typeof err.data === 'object' && 'status' in err.data) {
      return err.data;
    }
    throw await toApiError(e);
  }
}

/** The app's settings as Grafana's POST /api/plugins/<id>/settings takes them (UpdatePluginSettingCmd). */
export interface PluginSettingsUpdate {
  enabled: boolean;
  pinned: boolean;
  jsonData: Record<string, unknown>;
  secureJsonData?: Record<string, string>;
}

/** Saves the app's settings; a refusal is thrown as an ApiError with Grafana's message and status. */
export async function updatePluginSettings(pluginId: string, data: PluginSettingsUpdate): Promise<void> {
  try {
    await lastValueFrom(
      getBackendSrv().fetch({ url: `/api/plugins/${encodeURIComponent(pluginId)}/settings`, method: 'POST', data, showErrorAlert: false, showSuccessAlert: false })
    );
  } catch (e) {
    throw await toApiError(e);
  }
}

/** Hands a fetched file to the browser as a download. */
export function saveFile(f: FileDownload) {
  const url = URL.createObjectURL(f.blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = f.name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
