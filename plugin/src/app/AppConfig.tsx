// The app's configuration page, as Grafana shows it under Administration → Plugins → minewatch →
// 配置 Configuration (AppPlugin.addConfigPage, module.tsx). Grafana renders it with the app plugin
// whose meta it read from GET /api/plugins/<id>/settings (enabled, pinned, jsonData) and the URL's
// query; it saves with POST /api/plugins/<id>/settings and reloads the page, as Grafana's own
// enable/disable does, since a plugin's meta is read once per page load.
//
// What it holds: enable/disable; which minewatch datasource the pages use (jsonData.datasourceUid);
// the status of that datasource's backend (its health check: VictoriaMetrics, the case store, the
// ledger) with what to fix; who is bureau staff and who a unit lead.
import React, { useEffect, useMemo, useState } from 'react';
import { cx } from '@emotion/css';
import { AppPluginMeta, DataSourceInstanceSettings, locationUtil, PluginConfigPageProps } from '@grafana/data';
import { DataSourcePicker, getDataSourceSrv } from '@grafana/runtime';
import { Alert, Button, Field, FieldSet, Switch, useStyles2 } from '@grafana/ui';
import { AppSettings } from './App';
import { ApiError, CaseApi, checkHealth, DATASOURCE_TYPE, DatasourceHealth, datasourceUid, Me, PartHealth, updatePluginSettings } from './api';
import { BASE } from './context';
import { C, T } from './labels';
import { getStyles } from './styles';

export type AppConfigProps = PluginConfigPageProps<AppPluginMeta<AppSettings>>;

/** After a save the page is loaded again (tests replace it: jsdom does not navigate). */
export const afterSave = { reload: () => window.location.reload() };

/** What a refused save means, by Grafana's status. */
function saveHint(status: number): string | undefined {
  switch (status) {
    case 401:
      return '登录已失效，请重新登录 Grafana / the session has expired: sign in again';
    case 403:
      return '需要 Grafana 组织管理员 (Admin) 或 plugins:write 权限 / needs org Admin (plugins:write)';
    case 404:
      return 'Grafana 中未安装此插件 / the plugin is not installed on this Grafana';
    case 0:
      return '连不上 Grafana 服务器 / Grafana did not answer';
  }
  return undefined;
}

type PartState = 'ok' | 'unset' | 'failed';

function stateOf(p?: PartHealth): PartState {
  if (!p || (p.configured && !p.ok)) {
    return 'failed';
  }
  if (!p.configured) {
    return 'unset';
  }
  return p.ok ? 'ok' : 'failed';
}

function fixOf(part: 'vm' | 'store' | 'ledger', p?: PartHealth): string | undefined {
  const st = stateOf(p);
  if (st === 'ok') {
    return undefined;
  }
  if (part === 'vm') {
    return C.vmFix;
  }
  if (part === 'store') {
    return st === 'unset' ? C.storeUnsetFix : C.storeFailFix;
  }
  return st === 'unset' ? C.ledgerUnsetFix : C.ledgerNoLeadFix;
}

/** The default the pages fall back to without jsonData.datasourceUid (api.ts datasourceUid). */
function defaultUid(): string | undefined {
  try {
    return datasourceUid({});
  } catch {
    return undefined;
  }
}

function Status({ uid }: { uid: string }) {
  const s = useStyles2(getStyles);
  const [tick, setTick] = useState(0);
  const [health, setHealth] = useState<DatasourceHealth>();
  const [healthError, setHealthError] = useState<ApiError>();
  const [me, setMe] = useState<Me>();
  const [busy, setBusy] = useState(true);

  useEffect(() => {
    let live = true;
    setBusy(true);
    setHealth(undefined);
    setHealthError(undefined);
    setMe(undefined);
    Promise.allSettled([checkHealth(uid), new CaseApi(uid).me()]).then(([h, m]) => {
      if (!live) {
        return;
      }
      if (h.status === 'fulfilled') {
        setHealth(h.value);
      } else {
        setHealthError(h.reason as ApiError);
      }
      if (m.status === 'fulfilled') {
        setMe(m.value);
      }
      setBusy(false);
    });
    return () => {
      live = false;
    };
  }, [uid, tick]);

  const d = health?.details;
  const rows: Array<{ key: 'vm' | 'store' | 'ledger'; label: string; part?: PartHealth }> = [
    { key: 'vm', label: C.vm, part: d?.victoriaMetrics },
    { key: 'store', label: C.store, part: d?.caseStore },
    { key: 'ledger', label: C.ledger, part: d?.ledger },
  ];
  const word = { ok: C.ok, unset: C.notSet, failed: C.failed };
  return (
    <div data-testid="minewatch-status" data-busy={busy}>
      {healthError && (
        <Alert severity="error" title={`${healthError.status === 404 ? C.dsGone : C.backendDown} (${healthError.status || '—'}): ${healthError.message}`}>
          {healthError.status === 404 ? undefined : C.backendDownFix}
        </Alert>
      )}
      {health && (
        <table className={s.table} aria-label={C.statusLegend}>
          <tbody>
            {rows.map((r) => {
              const st = stateOf(r.part);
              const fix = fixOf(r.key, r.part);
              return (
                <tr key={r.key} data-part={r.key} data-state={st}>
                  <th scope="row" className={s.nowrap}>
                    {r.label}
                  </th>
                  <td className={cx(s.nowrap, st === 'ok' ? s.ok : st === 'failed' ? s.overdue : s.muted)}>{word[st]}</td>
                  <td>
                    <div>{r.part?.message ?? health.message}</div>
                    {r.part?.where && <div className={s.muted}>{r.part.where}</div>}
                    {fix && (
                      <div>
                        {C.fix}：{fix}
                      </div>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {health && d?.scope && (
        <p className={s.muted}>
          {d.scope}
          {d.bureauUsers ? ` · 局端用户 bureau users：${d.bureauUsers}` : ''}
        </p>
      )}
      {me && (
        <p data-testid="minewatch-me">
          {C.you}：{me.login}（{me.role}）{me.bureau ? ` · ${T.bureau}` : ''} · {me.units.length} 个单位 units
        </p>
      )}
      <Button variant="secondary" icon="sync" disabled={busy} onClick={() => setTick((t) => t + 1)}>
        {busy ? C.checking : C.recheck}
      </Button>
    </div>
  );
}

export function AppConfig({ plugin }: AppConfigProps) {
  const s = useStyles2(getStyles);
  const meta = plugin.meta;
  const saved = meta.jsonData?.datasourceUid;
  const [enabled, setEnabled] = useState(Boolean(meta.enabled));
  const [uid, setUid] = useState<string | undefined>(saved);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<ApiError>();
  const list = useMemo(() => getDataSourceSrv().getList({ pluginId: DATASOURCE_TYPE }), []);
  const fallback = useMemo(defaultUid, []);
  const effective = uid ?? fallback;
  const missing = uid !== undefined && !getDataSourceSrv().getInstanceSettings(uid);
  const fallbackName = fallback ? getDataSourceSrv().getInstanceSettings(fallback)?.name : undefined;

  const save = async () => {
    setSaving(true);
    setError(undefined);
    const jsonData: Record<string, unknown> = { ...(meta.jsonData ?? {}) };
    if (uid) {
      jsonData.datasourceUid = uid;
    }
    try {
      // Enabling pins the app to the menu and disabling unpins it, as Grafana's Enable/Disable do.
      await updatePluginSettings(meta.id, { enabled, pinned: enabled === Boolean(meta.enabled) ? Boolean(meta.pinned) : enabled, jsonData });
      afterSave.reload();
    } catch (e) {
      setError(e as ApiError);
      setSaving(false);
    }
  };

  const dsLink = effective ? locationUtil.assureBaseUrl(`/connections/datasources/edit/${encodeURIComponent(effective)}`) : undefined;
  return (
    <div data-testid="minewatch-config" className={s.form}>
      <FieldSet label={C.enableLegend}>
        <Field label={C.enable} description={C.enableHelp}>
          <Switch id="minewatch-enabled" value={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
        </Field>
      </FieldSet>

      <FieldSet label={C.dsLegend}>
        {list.length === 0 && <Alert severity="warning" title={C.dsNone} />}
        {missing && <Alert severity="warning" title={`已保存的数据源 ${uid} 不存在 / the saved datasource ${uid} does not exist`} />}
        <Field label={C.ds} description={C.dsHelp}>
          <DataSourcePicker inputId="minewatch-datasource" pluginId={DATASOURCE_TYPE} current={uid ?? null} noDefault width={48} onChange={(ds: DataSourceInstanceSettings) => setUid(ds.uid)} />
        </Field>
        {!uid && fallback && (
          <p className={s.muted} data-testid="minewatch-ds-default">
            {C.dsDefault} {fallbackName ?? fallback} ({fallback})
          </p>
        )}
      </FieldSet>

      {error && (
        <Alert severity="error" title={`${C.saveFailed} (${error.status || '—'}): ${error.message}`}>
          {saveHint(error.status)}
        </Alert>
      )}
      <div className={s.section}>
        <Button onClick={save} disabled={saving}>
          {saving ? C.saving : C.save}
        </Button>
      </div>

      {effective && (
        <FieldSet label={C.statusLegend}>
          <Status uid={effective} />
        </FieldSet>
      )}

      <FieldSet label={C.rolesLegend}>
        <dl className={s.grid}>
          <dt>{C.bureauRole}</dt>
          <dd>{C.bureauWho}</dd>
          <dt>{C.leadRole}</dt>
          <dd>{C.leadWho}</dd>
          <dt>{C.othersRole}</dt>
          <dd>{C.othersWho}</dd>
        </dl>
        <p>
          {dsLink && (
            <a className={s.link} href={dsLink}>
              {C.dsSettings}
            </a>
          )}
          {' · '}
          <a className={s.link} href={locationUtil.assureBaseUrl(`${BASE}/cases`)}>
            {C.openApp}
          </a>
        </p>
      </FieldSet>
    </div>
  );
}
