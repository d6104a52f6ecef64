import React from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, Input, MultiSelect, RadioButtonGroup, Select, TagsInput } from '@grafana/ui';
import { DataSource } from '../datasource';
import { L } from '../i18n';
import { MinewatchOptions, MinewatchQuery, QueryType } from '../types';

type Props = QueryEditorProps<DataSource, MinewatchQuery, MinewatchOptions>;

export const QUERY_TYPES: Array<SelectableValue<QueryType>> = [
  { label: L.tracker, value: 'tracker' },
  { label: L.weeklyReview, value: 'weekly_review' },
  { label: L.situation, value: 'situation' },
  { label: L.pools, value: 'pools' },
  { label: L.metricsql, value: 'metricsql' },
];

const STATES = ['mining', 'quiet', 'cleared', 'relapsed'];
const GROUP_BY: Array<SelectableValue<NonNullable<MinewatchQuery['groupBy']>>> = [
  { label: '单位 unit', value: 'unit' },
  { label: '行业 sector', value: 'sector' },
  { label: '区县 district', value: 'district' },
  { label: '合计 total', value: 'total' },
];
const FORMATS: Array<SelectableValue<NonNullable<MinewatchQuery['format']>>> = [
  { label: '表格 table', value: 'table' },
  { label: '时序 time series', value: 'time_series' },
];

export function QueryEditor({ query, onChange, onRunQuery }: Props) {
  const queryType = query.queryType ?? 'tracker';
  const update = (patch: Partial<MinewatchQuery>, run = true) => {
    onChange({ ...query, ...patch });
    if (run) {
      onRunQuery();
    }
  };
  const filters = queryType !== 'metricsql';

  return (
    <div>
      <InlineFieldRow>
        <InlineField label={L.queryType} labelWidth={20}>
          <Select
            inputId="minewatch-query-type"
            aria-label={L.queryType}
            options={QUERY_TYPES}
            value={queryType}
            width={28}
            onChange={(v) => update({ queryType: v.value! })}
          />
        </InlineField>
      </InlineFieldRow>
      {filters && (
        <InlineFieldRow>
          <InlineField label={L.units} labelWidth={20} tooltip="可用变量 $unit / template variables allowed">
            <TagsInput tags={query.units ?? []} onChange={(units) => update({ units })} placeholder="unit id / $unit" />
          </InlineField>
          <InlineField label={L.sectors} labelWidth={14}>
            <TagsInput tags={query.sectors ?? []} onChange={(sectors) => update({ sectors })} />
          </InlineField>
          <InlineField label={L.districts} labelWidth={14}>
            <TagsInput tags={query.districts ?? []} onChange={(districts) => update({ districts })} />
          </InlineField>
        </InlineFieldRow>
      )}
      {queryType === 'tracker' && (
        <InlineField label={L.states} labelWidth={20}>
          <MultiSelect
            aria-label={L.states}
            options={STATES.map((s) => ({ label: s, value: s }))}
            value={query.states ?? []}
            onChange={(v: Array<SelectableValue<string>>) => update({ states: (v ?? []).map((x) => x.value!) })}
          />
        </InlineField>
      )}
      {queryType === 'weekly_review' && (
        <InlineField label={L.week} labelWidth={20} tooltip="2026-W47；空 = 时间范围结束所在周 / empty = ISO week of the range end">
          <Input
            aria-label={L.week}
            value={query.week ?? ''}
            placeholder="2026-W47"
            width={20}
            onChange={(e) => update({ week: e.currentTarget.value }, false)}
            onBlur={() => onRunQuery()}
          />
        </InlineField>
      )}
      {queryType === 'situation' && (
        <InlineField label={L.groupBy} labelWidth={20}>
          <RadioButtonGroup options={GROUP_BY} value={query.groupBy ?? 'unit'} onChange={(groupBy) => update({ groupBy })} />
        </InlineField>
      )}
      {queryType === 'metricsql' && (
        <>
          <InlineField label={L.expr} labelWidth={20} grow>
            <Input
              aria-label={L.expr}
              value={query.expr ?? ''}
              placeholder="sum by (unit) (minewatch_host_mining)"
              onChange={(e) => update({ expr: e.currentTarget.value }, false)}
              onBlur={() => onRunQuery()}
            />
          </InlineField>
          <InlineFieldRow>
            <InlineField label={L.legendFormat} labelWidth={20}>
              <Input
                aria-label={L.legendFormat}
                value={query.legendFormat ?? ''}
                placeholder="{{unit}}"
                onChange={(e) => update({ legendFormat: e.currentTarget.value }, false)}
                onBlur={() => onRunQuery()}
              />
            </InlineField>
            <InlineField label={L.format} labelWidth={14}>
              <RadioButtonGroup options={FORMATS} value={query.format ?? 'time_series'} onChange={(format) => update({ format })} />
            </InlineField>
          </InlineFieldRow>
        </>
      )}
    </div>
  );
}
