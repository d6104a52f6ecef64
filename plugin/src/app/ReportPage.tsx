// 书面报告 the 72 h written report: a preview filled from the case (unit, IP, device, person,
// timeline, evidence, disposition), the fields only a person can write (cause, measures, reporter,
// phone), and the document the backend produces from both (DOCX), kept as an attachment.
import React, { useState } from 'react';
import { Alert, Button, Field, Input, LoadingPlaceholder, TextArea, useStyles2 } from '@grafana/ui';
import { ApiError, ReportFields, saveFile } from './api';
import { AppLink, go, useApp } from './context';
import { Attachments, useCase } from './CasePage';
import { classLabel, sourceLabel, stageLabel, T } from './labels';
import { getStyles } from './styles';
import { beijing } from './time';

// A mainland landline (0371-12345678) or mobile number (13812345678), spaces and dashes allowed.
const PHONE = /^\+?[0-9][0-9 -]{5,19}$/;

export function ReportPage({ id }: { id: string }) {
  const { api, me } = useApp();
  const s = useStyles2(getStyles);
  const { detail, error, reload } = useCase(id);
  const [fields, setFields] = useState<ReportFields>({ cause: '', measures: '', reporter: me?.name || me?.login || '', phone: '' });
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string }>();

  if (error) {
    return <Alert severity="error" title={error} />;
  }
  if (!detail) {
    return <LoadingPlaceholder text={T.loading} />;
  }
  const c = detail.case;
  const last = [...detail.timeline].reverse().find((t) => t.class);
  const invalid = {
    cause: !fields.cause.trim(),
    measures: !fields.measures.trim(),
    reporter: !fields.reporter.trim(),
    phone: !PHONE.test(fields.phone.trim()),
  };
  const set = (k: keyof ReportFields) => (e: React.FormEvent<HTMLInputElement | HTMLTextAreaElement>) =>
    setFields({ ...fields, [k]: e.currentTarget.value });

  const submit = async () => {
    setTouched(true);
    if (Object.values(invalid).some(Boolean)) {
      return;
    }
    setBusy(true);
    setResult(undefined);
    try {
      const f = await api.report(c.id, {
        cause: fields.cause.trim(),
        measures: fields.measures.trim(),
        reporter: fields.reporter.trim(),
        phone: fields.phone.trim(),
      });
      saveFile(f);
      setResult({ ok: true, text: `${T.generated}: ${f.name}` });
      // A report on a d~<unit>~<ip> case opened its store case (X-Minewatch-Case-Id): go to its id.
      if (f.caseId !== id) {
        go(`/cases/${encodeURIComponent(f.caseId)}/report`);
      } else {
        reload();
      }
    } catch (e) {
      setResult({ ok: false, text: (e as ApiError).message });
    } finally {
      setBusy(false);
    }
  };

  return (
    <div>
      <AppLink to={`/cases/${encodeURIComponent(c.id)}`}>
        ← {T.casePage} {c.ip}
      </AppLink>
      <h2>
        {T.report} · {c.unitName || c.unit} · {c.ip}
      </h2>
      <div className={s.preview} aria-label={T.preview}>
        <h3 className={s.h}>{T.preview}</h3>
        <div className={s.grid}>
          <span className={s.muted}>{T.unit}</span>
          <span>{c.unitName || c.unit}</span>
          <span className={s.muted}>{T.ip}</span>
          <span>{c.ip}</span>
          <span className={s.muted}>{T.device}</span>
          <span>{c.device || T.none}</span>
          <span className={s.muted}>{T.person}</span>
          <span>{c.person || T.none}</span>
          <span className={s.muted}>{T.source}</span>
          <span>{sourceLabel(c.source)}</span>
          <span className={s.muted}>{T.opened}</span>
          <span>{beijing(c.opened)}</span>
          <span className={s.muted}>{T.stage}</span>
          <span>
            {stageLabel('located')} {beijing(c.located)} · {stageLabel('reported')} {beijing(c.reported)}
          </span>
          <span className={s.muted}>{T.class}</span>
          <span>{last?.class ? classLabel(last.class) : T.none}</span>
          <span className={s.muted}>{T.evidence}</span>
          <span>
            {T.score} {detail.evidence?.score === undefined ? T.none : Math.round(detail.evidence.score)}:{' '}
            {(detail.evidence?.reasons ?? []).map((r) => `${r.label}（${Math.round(r.points)}分）`).join('；') || T.none}
          </span>
          <span className={s.muted}>{T.timeline}</span>
          <span>
            {detail.timeline.map((t, i) => (
              <div key={i}>
                {beijing(t.at)} {stageLabel(t.stage)} {t.class ? classLabel(t.class) : ''} {t.note} — {t.author}
              </div>
            ))}
          </span>
        </div>
      </div>
      <form
        className={s.form}
        aria-label={T.report}
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <Field label={T.cause} invalid={touched && invalid.cause} error={T.required} required>
          <TextArea id="minewatch-cause" rows={3} value={fields.cause} onChange={set('cause')} />
        </Field>
        <Field label={T.measures} invalid={touched && invalid.measures} error={T.required} required>
          <TextArea id="minewatch-measures" rows={3} value={fields.measures} onChange={set('measures')} />
        </Field>
        <Field label={T.reporter} invalid={touched && invalid.reporter} error={T.required} required>
          <Input id="minewatch-reporter" value={fields.reporter} onChange={set('reporter')} />
        </Field>
        <Field label={T.phone} invalid={touched && invalid.phone} error={T.badPhone} required>
          <Input id="minewatch-phone" value={fields.phone} onChange={set('phone')} />
        </Field>
        {result && <Alert severity={result.ok ? 'success' : 'error'} title={result.text} />}
        <Button type="submit" icon="download-alt" disabled={busy}>
          {T.downloadDocx}
        </Button>
      </form>
      <h3 className={s.h} style={{ marginTop: 24 }}>
        {T.attachments}
      </h3>
      <Attachments id={c.id} list={detail.attachments} />
    </div>
  );
}
