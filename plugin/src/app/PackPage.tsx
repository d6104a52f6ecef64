// 周会材料 the weekly meeting pack: a week (the last complete one by default, counted in Beijing
// time) and a unit or a district, downloaded as XLSX or PDF from the backend.
import React, { useEffect, useState } from 'react';
import { SelectableValue } from '@grafana/data';
import { Alert, Button, Field, RadioButtonGroup, Select, useStyles2 } from '@grafana/ui';
import { ApiError, saveFile } from './api';
import { useApp } from './context';
import { T } from './labels';
import { getStyles } from './styles';
import { recentWeeks } from './time';

export function PackPage() {
  const { api, me } = useApp();
  const s = useStyles2(getStyles);
  const [weeks] = useState(() => recentWeeks(Date.now(), 12));
  const [week, setWeek] = useState(weeks[0]);
  const [scope, setScope] = useState<'unit' | 'district'>('unit');
  const [unit, setUnit] = useState(me?.units?.[0]?.id ?? '');
  const [district, setDistrict] = useState('');
  const [districts, setDistricts] = useState<Array<SelectableValue<string>>>([]);
  const [format, setFormat] = useState<'xlsx' | 'pdf'>('xlsx');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.districts().then(
      (d) => {
        const opts = d.map((x) => ({ label: x.text, value: x.value ?? x.text }));
        setDistricts(opts);
        setDistrict((cur) => cur || (opts[0]?.value ?? ''));
      },
      () => setDistricts([])
    );
  }, [api]);

  const download = async () => {
    setBusy(true);
    setError(undefined);
    try {
      saveFile(await api.pack({ week, format, ...(scope === 'district' ? { district } : { unit }) }));
    } catch (e) {
      setError((e as ApiError).message);
    } finally {
      setBusy(false);
    }
  };

  const unitOptions = (me?.units ?? []).map((u) => ({ label: u.name ? `${u.name} (${u.id})` : u.id, value: u.id }));
  return (
    <div className={s.form}>
      <Field label={T.week}>
        <Select inputId="minewatch-week" width={24} options={weeks.map((w) => ({ label: w, value: w }))} value={week} onChange={(v) => setWeek(v.value!)} />
      </Field>
      <Field label={T.scope}>
        <RadioButtonGroup
          options={[
            { label: T.unit, value: 'unit' },
            { label: T.district, value: 'district', disabled: districts.length === 0 },
          ]}
          value={scope}
          onChange={(v) => setScope(v as 'unit' | 'district')}
        />
      </Field>
      {scope === 'unit' ? (
        <Field label={T.unit}>
          <Select inputId="minewatch-pack-unit" width={36} options={unitOptions} value={unit} onChange={(v) => setUnit(v.value ?? '')} />
        </Field>
      ) : (
        <Field label={T.district}>
          <Select inputId="minewatch-pack-district" width={36} options={districts} value={district} onChange={(v) => setDistrict(v.value ?? '')} />
        </Field>
      )}
      <Field label={T.format}>
        <RadioButtonGroup
          options={[
            { label: 'XLSX', value: 'xlsx' },
            { label: 'PDF', value: 'pdf' },
          ]}
          value={format}
          onChange={(v) => setFormat(v as 'xlsx' | 'pdf')}
        />
      </Field>
      {error && <Alert severity="error" title={error} />}
      <Button icon="download-alt" onClick={download} disabled={busy || (scope === 'unit' ? !unit : !district)}>
        {T.downloadPack}
      </Button>
    </div>
  );
}
