import React from 'react';
import { SelectableValue } from '@grafana/data';
import { InlineField, Select } from '@grafana/ui';
import { L } from '../i18n';
import { VariableKind, VariableQuery } from '../types';

export const VARIABLE_KINDS: Array<SelectableValue<VariableKind>> = [
  { label: '单位 units', value: 'units' },
  { label: '行业 sectors', value: 'sectors' },
  { label: '区县 districts', value: 'districts' },
  { label: '周 weeks', value: 'weeks' },
  { label: 'IP ips', value: 'ips' },
];

interface Props {
  query: VariableQuery;
  onChange: (query: VariableQuery, definition: string) => void;
}

export function VariableQueryEditor({ query, onChange }: Props) {
  const kind = query?.variableKind ?? 'units';
  return (
    <InlineField label={L.variableKind} labelWidth={20}>
      <Select
        inputId="minewatch-variable-kind"
        aria-label={L.variableKind}
        options={VARIABLE_KINDS}
        value={kind}
        width={24}
        onChange={(v) => onChange({ variableKind: v.value! }, `minewatch ${v.value}`)}
      />
    </InlineField>
  );
}
