import React from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { FieldSet, InlineField, InlineSwitch, Input, SecretInput, TagsInput } from '@grafana/ui';
import { L } from '../../i18n';
import { MinewatchOptions, MinewatchSecureOptions } from '../types';

type Props = DataSourcePluginOptionsEditorProps<MinewatchOptions, MinewatchSecureOptions>;
type SecretKey = keyof MinewatchSecureOptions;

const W = 28;
// Placeholder of the campaign fields: empty = the campaign definition's value.
const DEFINITION = '空 = 活动定义 definition';
const DEFINITION_HELP = '留空：使用活动定义（与告警规则一致）；其他值会被拒绝 / empty: the campaign definition (the alert rules use it); other values are refused';

export function ConfigEditor({ options, onOptionsChange }: Props) {
  const json = options.jsonData ?? {};
  const secure = (options.secureJsonData ?? {}) as MinewatchSecureOptions;
  const configured = options.secureJsonFields ?? {};

  const setJson = <K extends keyof MinewatchOptions>(key: K, value: MinewatchOptions[K]) =>
    onOptionsChange({ ...options, jsonData: { ...json, [key]: value } });
  // Secrets go to secureJsonData only; Grafana encrypts them and never sends them back to the browser.
  const setSecret = (key: SecretKey, value: string) =>
    onOptionsChange({ ...options, secureJsonData: { ...secure, [key]: value } });
  const resetSecret = (key: SecretKey) =>
    onOptionsChange({
      ...options,
      secureJsonFields: { ...configured, [key]: false },
      secureJsonData: { ...secure, [key]: '' },
    });
  const text = (
    key: 'quietPeriod' | 'locateDeadline' | 'reportDeadline' | 'timezone' | 'timeout' | 'timeInterval' | 'caseStore',
    label: string,
    placeholder: string,
    tooltip?: string,
    width = 24
  ) => (
    <InlineField label={label} labelWidth={W} tooltip={tooltip ?? (placeholder === DEFINITION ? DEFINITION_HELP : undefined)}>
      <Input aria-label={label} width={width} value={json[key] ?? ''} placeholder={placeholder} onChange={(e) => setJson(key, e.currentTarget.value)} />
    </InlineField>
  );

  // A list setting: an empty list is left out of jsonData (the backend's default), not saved as [].
  const list = (key: 'ledgerFiles' | 'leaseFiles' | 'accountingFiles' | 'bureauUsers', label: string, tooltip: string, placeholder: string) => (
    <InlineField label={label} labelWidth={W} tooltip={tooltip}>
      <TagsInput
        id={key}
        width={48}
        placeholder={placeholder}
        tags={json[key] ?? []}
        onChange={(values) => setJson(key, values.length > 0 ? values : undefined)}
      />
    </InlineField>
  );

  return (
    <>
      <FieldSet label="VictoriaMetrics">
        <InlineField label={L.url} labelWidth={W} tooltip={L.urlHelp} required>
          <Input
            aria-label={L.url}
            width={48}
            value={options.url ?? ''}
            placeholder="http://127.0.0.1:8428"
            onChange={(e) => onOptionsChange({ ...options, url: e.currentTarget.value })}
          />
        </InlineField>
        {text('timeout', L.timeout, '30s')}
        {text('timeInterval', L.scrapeInterval, '15s', L.scrapeIntervalHelp)}
      </FieldSet>
      <FieldSet label={L.auth}>
        <InlineField label={L.basicUser} labelWidth={W}>
          <Input aria-label={L.basicUser} width={24} value={json.basicAuthUser ?? ''} onChange={(e) => setJson('basicAuthUser', e.currentTarget.value)} />
        </InlineField>
        <InlineField label={L.basicPassword} labelWidth={W}>
          <SecretInput
            aria-label={L.basicPassword}
            width={24}
            isConfigured={Boolean(configured.basicAuthPassword)}
            value={secure.basicAuthPassword ?? ''}
            onChange={(e) => setSecret('basicAuthPassword', e.currentTarget.value)}
            onReset={() => resetSecret('basicAuthPassword')}
          />
        </InlineField>
        <InlineField label={L.bearerToken} labelWidth={W}>
          <SecretInput
            aria-label={L.bearerToken}
            width={48}
            isConfigured={Boolean(configured.bearerToken)}
            value={secure.bearerToken ?? ''}
            onChange={(e) => setSecret('bearerToken', e.currentTarget.value)}
            onReset={() => resetSecret('bearerToken')}
          />
        </InlineField>
      </FieldSet>
      <FieldSet label={L.data}>
        {text('caseStore', L.caseStore, '/var/lib/grafana/minewatch-cases.db', L.caseStoreHelp, 48)}
        <InlineField label={L.caseStoreURL} labelWidth={W} tooltip="postgres://user:password@host:5432/db，加密保存，优先于上一项 / stored encrypted, wins over the field above">
          <SecretInput
            aria-label={L.caseStoreURL}
            width={48}
            isConfigured={Boolean(configured.caseStoreURL)}
            value={secure.caseStoreURL ?? ''}
            onChange={(e) => setSecret('caseStoreURL', e.currentTarget.value)}
            onReset={() => resetSecret('caseStoreURL')}
          />
        </InlineField>
        {list('ledgerFiles', L.ledgerFiles, L.ledgerFilesHelp, '/etc/minewatch/ledger.yaml')}
        {list('leaseFiles', L.leaseFiles, L.leaseFilesHelp, '/var/lib/kea/kea-leases4.csv')}
        {list('accountingFiles', L.accountingFiles, L.accountingFilesHelp, '/var/log/freeradius/radacct/nas/detail')}
      </FieldSet>
      <FieldSet label={L.campaign}>
        {/* No defaults are copied here: empty means the campaign definition (plugin/pkg/campaign,
            docs/campaign.md), from which the alert rules are generated; the backend refuses any other value. */}
        {text('quietPeriod', L.quietPeriod, DEFINITION)}
        {text('locateDeadline', L.locateDeadline, DEFINITION)}
        {text('reportDeadline', L.reportDeadline, DEFINITION)}
        {text('timezone', L.timezone, DEFINITION)}
        <InlineField label={L.relapseLimit} labelWidth={W} tooltip={DEFINITION_HELP}>
          <Input
            aria-label={L.relapseLimit}
            type="number"
            min={1}
            width={24}
            value={json.relapseLimit ?? ''}
            placeholder={DEFINITION}
            onChange={(e) => {
              const n = parseInt(e.currentTarget.value, 10);
              setJson('relapseLimit', Number.isFinite(n) ? n : undefined);
            }}
          />
        </InlineField>
      </FieldSet>
      <FieldSet label={L.scope}>
        <InlineField label={L.scopeUnits} labelWidth={W} tooltip="空 = 全部单位 / empty = all units">
          <TagsInput
            width={48}
            placeholder="单位编号，回车添加 / unit id, Enter to add"
            tags={json.scopeUnits ?? []}
            onChange={(units) => setJson('scopeUnits', units)}
          />
        </InlineField>
        {list('bureauUsers', L.bureauUsers, L.bureauUsersHelp, 'officer@bureau.example')}
        <InlineField label={L.hidePersons} labelWidth={W}>
          <InlineSwitch
            aria-label={L.hidePersons}
            value={Boolean(json.hidePersons)}
            onChange={(e) => setJson('hidePersons', e.currentTarget.checked)}
          />
        </InlineField>
      </FieldSet>
    </>
  );
}
