import React from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, Input, MultiSelect, RadioButtonGroup, Select, TagsInput } from '@grafana/ui';
import { DataSource } from '../datasource';
import { L } from '../../i18n';
import { AnnotationKind, MinewatchOptions, MinewatchQuery, QueryType } from '../types';
import { selected, useOptions } from './options';

type Props = QueryEditorProps<DataSource, MinewatchQuery, MinewatchOptions>;

export const QUERY_TYPES: Array<SelectableValue<QueryType>> = [
  { label: L.tracker, value: 'tracker' },
  { label: L.weeklyReview, value: 'weekly_review' },
  { label: L.situation, value: 'situation' },
  { label: L.pools, value: 'pools' },
  { label: L.metricsql, value: 'metricsql' },
  { label: L.annotations, value: 'annotations' },
];

// The states' codes; their labels come from the backend (variables?kind=states).
const STATES = ['mining', 'quiet', 'cleared', 'relapsed'];
const ANNOTATION_KINDS: Array<SelectableValue<AnnotationKind | ''>> = [
  { label: L.both, value: '' },
  { label: L.episodes, value: 'episodes' },
  { label: L.dispositions, value: 'dispositions' },
];
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

type ListKey = 'units' | 'sectors' | 'districts' | 'states';

export function QueryEditor({ query, onChange, onRunQuery, datasource }: Props) {
  const queryType = query.queryType ?? 'tracker';
  const options = {
    units: useOptions(datasource, 'units'),
    sectors: useOptions(datasource, 'sectors'),
    districts: useOptions(datasource, 'districts'),
    states: useOptions(datasource, 'states', STATES),
  };
  const update = (patch: Partial<MinewatchQuery>, run = true) => {
    onChange({ ...query, ...patch });
    if (run) {
      onRunQuery();
    }
  };
  const filters = queryType !== 'metricsql';
  // An empty filter is no filter (the backend's rule): say so rather than Grafana's "Choose".
  const ALL = '全部 all';
  // A dropdown fed by the backend; typing a value or a $variable is allowed.
  const list = (key: ListKey, label: string, width: number, placeholder?: string) => (
    <MultiSelect
      inputId={`minewatch-${key}`}
      aria-label={label}
      options={options[key]}
      value={selected(query[key], options[key])}
      allowCustomValue
      width={width}
      placeholder={placeholder}
      onChange={(v: Array<SelectableValue<string>>) => update({ [key]: (v ?? []).map((x) => x.value!) })}
    />
  );

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
            {list('units', L.units, 32, '单位编号 unit id / $unit')}
          </InlineField>
          <InlineField label={L.sectors} labelWidth={14}>
            {list('sectors', L.sectors, 24, ALL)}
          </InlineField>
          <InlineField label={L.districts} labelWidth={14}>
            {list('districts', L.districts, 24, ALL)}
          </InlineField>
        </InlineFieldRow>
      )}
      {queryType === 'tracker' && (
        <InlineField label={L.states} labelWidth={20}>
          {list('states', L.states, 48, ALL)}
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
            <InlineField label={L.minStep} labelWidth={16} tooltip={L.minStepHelp}>
              <Input
                aria-label={L.minStep}
                value={query.interval ?? ''}
                placeholder="15s"
                width={12}
                onChange={(e) => update({ interval: e.currentTarget.value }, false)}
                onBlur={() => onRunQuery()}
              />
            </InlineField>
          </InlineFieldRow>
        </>
      )}
      {queryType === 'annotations' && (
        <InlineFieldRow>
          <InlineField label={L.annotationKind} labelWidth={20}>
            <RadioButtonGroup<AnnotationKind | ''>
              options={ANNOTATION_KINDS}
              value={query.annotationKind ?? ''}
              onChange={(k) => update({ annotationKind: k === '' ? undefined : k })}
            />
          </InlineField>
          <InlineField label={L.ips} labelWidth={14} tooltip="空 = 全部；可用变量 $ip / empty = all; $ip allowed">
            <TagsInput tags={query.ips ?? []} onChange={(ips) => update({ ips })} placeholder="10.1.0.1 / $ip" />
          </InlineField>
        </InlineFieldRow>
      )}
    </div>
  );
}
