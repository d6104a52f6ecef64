import React from 'react';
import { SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, MultiSelect, Select } from '@grafana/ui';
import { DataSource } from '../datasource';
import { L } from '../../i18n';
import { VariableKind, VariableQuery } from '../types';
import { selected, useOptions } from './options';

export const VARIABLE_KINDS: Array<SelectableValue<VariableKind>> = [
  { label: '单位 units', value: 'units' },
  { label: '行业 sectors', value: 'sectors' },
  { label: '区县 districts', value: 'districts' },
  { label: '周 weeks', value: 'weeks' },
  { label: 'IP ips', value: 'ips' },
  { label: '状态 states', value: 'states' },
];

// Kinds whose values belong to units, so a unit filter ($unit) narrows them.
const BY_UNIT: VariableKind[] = ['units', 'sectors', 'districts', 'ips'];

interface Props {
  query: VariableQuery;
  onChange: (query: VariableQuery, definition: string) => void;
  datasource?: DataSource;
}

/** The variable's query and the definition Grafana lists it by ("minewatch ips unit=$unit"). */
function emit(onChange: Props['onChange'], variableKind: VariableKind, units: string[]) {
  const filter = BY_UNIT.includes(variableKind) && units.length > 0;
  onChange(filter ? { variableKind, units } : { variableKind }, `minewatch ${variableKind}${filter ? ` unit=${units.join(',')}` : ''}`);
}

export function VariableQueryEditor({ query, onChange, datasource }: Props) {
  const kind = query?.variableKind ?? 'units';
  const units = query?.units ?? [];
  const unitOptions = useOptions(datasource, 'units');
  return (
    <InlineFieldRow>
      <InlineField label={L.variableKind} labelWidth={20}>
        <Select
          inputId="minewatch-variable-kind"
          aria-label={L.variableKind}
          options={VARIABLE_KINDS}
          value={kind}
          width={24}
          onChange={(v) => emit(onChange, v.value!, units)}
        />
      </InlineField>
      {BY_UNIT.includes(kind) && (
        <InlineField label={L.variableUnits} labelWidth={20} tooltip="空 = 全部；如 IP 变量随 $unit / empty = all; e.g. the IP variable follows $unit">
          <MultiSelect
            inputId="minewatch-variable-units"
            aria-label={L.variableUnits}
            options={unitOptions}
            value={selected(units, unitOptions)}
            allowCustomValue
            width={32}
            placeholder="单位编号 unit id / $unit"
            onChange={(v: Array<SelectableValue<string>>) => emit(onChange, kind, (v ?? []).map((x) => x.value!))}
          />
        </InlineField>
      )}
    </InlineFieldRow>
  );
}
