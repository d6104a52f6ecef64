// 我的待办 My cases: the open cases of the caller's units (all units for the bureau) with the time
// left to the 48 h locate and 72 h report deadlines, overdue ones in red.
import React, { useEffect, useState } from 'react';
import { SelectableValue } from '@grafana/data';
import { Alert, Field, LoadingPlaceholder, RadioButtonGroup, Select, useStyles2 } from '@grafana/ui';
import { ApiError, CaseSummary } from './api';
import { AppLink, useApp, useNow } from './context';
import { sourceLabel, stateLabel, T } from './labels';
import { getStyles } from './styles';
import { beijing, countdown } from './time';

/** A deadline cell: done (with when), or the countdown, red once overdue. */
export function Deadline({ due, done, now }: { due?: string; done?: string; now: number }) {
  const s = useStyles2(getStyles);
  if (done) {
    return <span className={s.ok}>✓ {beijing(done)}</span>;
  }
  const c = countdown(due, now);
  if (!c) {
    return <span>{T.none}</span>;
  }
  return (
    <span className={c.overdue ? s.overdue : undefined} data-overdue={c.overdue} title={beijing(due)}>
      {c.text}
    </span>
  );
}

export function MyCases() {
  const { api, me } = useApp();
  const s = useStyles2(getStyles);
  const now = useNow();
  const [show, setShow] = useState<'open' | 'all'>('open');
  const [unit, setUnit] = useState('');
  const [cases, setCases] = useState<CaseSummary[]>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    let live = true;
    setCases(undefined);
    setError(undefined);
    api.cases(show, unit || undefined).then(
      (c) => live && setCases(c),
      (e: ApiError) => live && setError(e.message)
    );
    return () => {
      live = false;
    };
  }, [api, show, unit]);

  const units: Array<SelectableValue<string>> = [
    { label: T.allUnits, value: '' },
    ...(me?.units ?? []).map((u) => ({ label: u.name ? `${u.name} (${u.id})` : u.id, value: u.id })),
  ];
  return (
    <div>
      <p className={s.muted}>
        {T.user}: {me?.name || me?.login} · {me?.role}
        {me?.bureau ? ` · ${T.bureau}` : ''}
      </p>
      <div className={s.bar}>
        <Field label={T.unit}>
          <Select inputId="minewatch-unit" width={36} options={units} value={unit} onChange={(v) => setUnit(v.value ?? '')} />
        </Field>
        <Field label={T.show}>
          <RadioButtonGroup
            options={[
              { label: T.open, value: 'open' },
              { label: T.all, value: 'all' },
            ]}
            value={show}
            onChange={(v) => setShow(v as 'open' | 'all')}
          />
        </Field>
      </div>
      {error && <Alert severity="error" title={error} />}
      {!cases && !error && <LoadingPlaceholder text={T.loading} />}
      {cases && cases.length === 0 && <p>{T.noCases}</p>}
      {cases && cases.length > 0 && (
        <table className={s.table} aria-label={T.myCases}>
          <thead>
            <tr>
              <th>{T.ip}</th>
              <th>{T.unit}</th>
              <th>{T.state}</th>
              <th>{T.source}</th>
              <th>{T.device}</th>
              <th>{T.person}</th>
              <th>{T.opened}</th>
              <th>{T.locateDue}</th>
              <th>{T.reportDue}</th>
              <th>{T.score}</th>
            </tr>
          </thead>
          <tbody>
            {cases.map((c) => (
              <tr key={c.id} data-case={c.id} data-overdue={c.overdue}>
                <td>
                  <AppLink to={`/cases/${encodeURIComponent(c.id)}`}>{c.ip}</AppLink>
                </td>
                <td>{c.unitName || c.unit}</td>
                <td className={c.overdue ? s.overdue : undefined}>{stateLabel(c.state)}</td>
                <td>{sourceLabel(c.source)}</td>
                <td>{c.device || T.none}</td>
                <td>{c.person || T.none}</td>
                <td>{beijing(c.opened)}</td>
                <td>
                  <Deadline due={c.locateDue} done={c.located} now={now} />
                </td>
                <td>
                  <Deadline due={c.reportDue} done={c.reported} now={now} />
                </td>
                <td>{c.maxScore === undefined ? T.none : Math.round(c.maxScore)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
