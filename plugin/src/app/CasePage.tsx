// 案件 the case page: who and what (unit, IP, device, person), the deadlines, the evidence with its
// reasons, the timeline with each entry's author, upstream notices and how the trace was made,
// attachments, the audit chain's state, and the form that records a disposition.
import React, { useCallback, useEffect, useState } from 'react';
import { Alert, Button, Field, LoadingPlaceholder, RadioButtonGroup, TextArea, useStyles2 } from '@grafana/ui';
import { ApiError, Attachment, CaseClass, CaseDetail, saveFile, Stage } from './api';
import { AppLink, go, useApp, useNow } from './context';
import { CLASSES, classLabel, confidenceLabel, sourceLabel, STAGES, stageLabel, stateLabel, T, traceLabel, viaLabel } from './labels';
import { Deadline } from './MyCases';
import { getStyles } from './styles';
import { beijing } from './time';

/** Loads one case; reload() after a write shows what the backend now holds. */
export function useCase(id: string) {
  const { api } = useApp();
  const [detail, setDetail] = useState<CaseDetail>();
  const [error, setError] = useState<string>();
  const reload = useCallback(() => {
    api.case(id).then(
      (d) => {
        setDetail(d);
        setError(undefined);
      },
      (e: ApiError) => setError(e.message)
    );
  }, [api, id]);
  useEffect(reload, [reload]);
  return { detail, error, reload };
}

export function Attachments({ id, list }: { id: string; list: Attachment[] }) {
  const { api } = useApp();
  const s = useStyles2(getStyles);
  const [error, setError] = useState<string>();
  if (!list.length) {
    return <p className={s.muted}>{T.noAttachments}</p>;
  }
  return (
    <>
      {error && <Alert severity="error" title={error} />}
      <table className={s.table} aria-label={T.attachments}>
        <tbody>
          {list.map((a) => (
            <tr key={a.id}>
              <td>{a.name}</td>
              <td>{a.size < 1024 ? `${a.size} B` : `${(a.size / 1024).toFixed(1)} KiB`}</td>
              <td>{a.by}</td>
              <td>{beijing(a.at)}</td>
              <td className={s.muted} title={a.sha256}>
                {a.sha256 ? `sha256 ${a.sha256.slice(0, 12)}…` : ''}
              </td>
              <td>
                <Button
                  size="sm"
                  variant="secondary"
                  icon="download-alt"
                  onClick={() => api.attachment(id, a).then(saveFile, (e: ApiError) => setError(e.message))}
                >
                  {T.download}
                </Button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** 记录处置: stage, class and note, POSTed as the signed-in user; the backend's refusal is shown as it says it. */
export function DispositionForm({ detail, onSaved }: { detail: CaseDetail; onSaved: (caseId: string) => void }) {
  const { api } = useApp();
  const s = useStyles2(getStyles);
  const c = detail.case;
  const [stage, setStage] = useState<Stage>(c.located ? (c.reported ? 'closed' : 'reported') : 'located');
  const [klass, setKlass] = useState<CaseClass>();
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string }>();

  const submit = async () => {
    if (!klass) {
      setResult({ ok: false, text: T.chooseClass });
      return;
    }
    setBusy(true);
    setResult(undefined);
    try {
      const saved = await api.dispose({ caseId: c.id, ip: c.ip, unit: c.unit, stage, class: klass, note: note.trim() });
      setResult({ ok: true, text: `${T.saved}: ${stageLabel(stage)} · ${classLabel(klass)}` });
      setNote('');
      onSaved(saved.caseId);
    } catch (e) {
      const err = e as ApiError;
      setResult({ ok: false, text: err.status === 403 ? `无权处置 / refused (403): ${err.message}` : err.message });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className={s.form}
      aria-label={T.record}
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <Field label={T.stage}>
        <RadioButtonGroup options={STAGES.map((x) => ({ ...x }))} value={stage} onChange={(v) => setStage(v as Stage)} />
      </Field>
      <Field label={T.class}>
        <RadioButtonGroup options={CLASSES.map((x) => ({ ...x }))} value={klass} onChange={(v) => setKlass(v as CaseClass)} />
      </Field>
      <Field label={T.note}>
        <TextArea id="minewatch-note" aria-label={T.note} rows={3} value={note} onChange={(e) => setNote(e.currentTarget.value)} />
      </Field>
      {result && <Alert severity={result.ok ? 'success' : 'error'} title={result.text} />}
      <Button type="submit" disabled={busy}>
        {T.save}
      </Button>
    </form>
  );
}

export function CasePage({ id }: { id: string }) {
  const s = useStyles2(getStyles);
  const now = useNow();
  const { detail, error, reload } = useCase(id);
  if (error) {
    return (
      <>
        <AppLink to="/cases">← {T.back}</AppLink>
        <Alert severity="error" title={error} />
      </>
    );
  }
  if (!detail) {
    return <LoadingPlaceholder text={T.loading} />;
  }
  const c = detail.case;
  const ev = detail.evidence;
  return (
    <div>
      <AppLink to="/cases">← {T.back}</AppLink>
      <h2 aria-label={T.casePage}>
        {c.ip} · {c.unitName || c.unit} · <span className={c.overdue ? s.overdue : undefined}>{stateLabel(c.state)}</span>
      </h2>
      <div className={s.section}>
        <div className={s.grid}>
          <span className={s.muted}>{T.source}</span>
          <span>{sourceLabel(c.source)}</span>
          <span className={s.muted}>{T.device}</span>
          <span>{c.device || T.none}</span>
          <span className={s.muted}>{T.person}</span>
          <span>{c.person || T.none}</span>
          <span className={s.muted}>{T.opened}</span>
          <span>{beijing(c.opened)}</span>
          <span className={s.muted}>{T.locateDue}</span>
          <span>
            <Deadline due={c.locateDue} done={c.located} now={now} /> <span className={s.muted}>({beijing(c.locateDue)})</span>
          </span>
          <span className={s.muted}>{T.reportDue}</span>
          <span>
            <Deadline due={c.reportDue} done={c.reported} now={now} /> <span className={s.muted}>({beijing(c.reportDue)})</span>
          </span>
          <span className={s.muted}>{T.audit}</span>
          <span className={detail.audit?.ok ? s.ok : s.overdue} data-testid="audit">
            {detail.audit ? `${detail.audit.ok ? T.auditOk : T.auditBroken} (${detail.audit.entries})` : T.none}
          </span>
        </div>
      </div>

      <section className={s.section}>
        <h3 className={s.h}>{T.evidence}</h3>
        <p>
          {T.score}: {ev?.score === undefined ? T.none : Math.round(ev.score)} · {T.firstSeen}: {beijing(ev?.firstSeen)} · {T.lastSeen}:{' '}
          {beijing(ev?.lastSeen)}
        </p>
        <table className={s.table} aria-label={T.reasons}>
          <thead>
            <tr>
              <th>{T.reasons}</th>
              <th>{T.points}</th>
            </tr>
          </thead>
          <tbody>
            {(ev?.reasons ?? []).map((r) => (
              <tr key={r.signal}>
                <td>{r.label}</td>
                <td>{Math.round(r.points)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section className={s.section}>
        <h3 className={s.h}>{T.timeline}</h3>
        <table className={s.table} aria-label={T.timeline}>
          <thead>
            <tr>
              <th>{T.at}</th>
              <th>{T.stage}</th>
              <th>{T.class}</th>
              <th>{T.note}</th>
              <th>{T.author}</th>
              <th>{T.via}</th>
            </tr>
          </thead>
          <tbody>
            {detail.timeline.map((t, i) => (
              <tr key={i}>
                <td>{beijing(t.at)}</td>
                <td>{stageLabel(t.stage)}</td>
                <td>{t.class ? classLabel(t.class) : T.none}</td>
                <td>{t.note}</td>
                <td>
                  {t.author || T.none}
                  {t.authorRole ? ` (${t.authorRole})` : ''}
                </td>
                <td>{viaLabel(t.via)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      {!c.closed && (
        <section className={s.section}>
          <h3 className={s.h}>{T.record}</h3>
          <DispositionForm
            detail={detail}
            onSaved={(caseId) => {
              // The first disposition of a d~<unit>~<ip> case opens its store case: go to its id.
              if (caseId !== id) {
                go(`/cases/${encodeURIComponent(caseId)}`);
              } else {
                reload();
              }
            }}
          />
        </section>
      )}

      {detail.notices.length > 0 && (
        <section className={s.section}>
          <h3 className={s.h}>{T.notices}</h3>
          <table className={s.table} aria-label={T.notices}>
            <thead>
              <tr>
                <th>{T.noticeNumber}</th>
                <th>{T.egress}</th>
                <th>{T.window}</th>
                <th>{T.remote}</th>
                <th>{T.receivedAt}</th>
              </tr>
            </thead>
            <tbody>
              {detail.notices.map((n, i) => (
                <tr key={i}>
                  <td>{n.number || T.none}</td>
                  <td>{n.egress}</td>
                  <td>{n.window}</td>
                  <td>{n.remote || T.none}</td>
                  <td>{beijing(n.receivedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}

      {detail.trace.length > 0 && (
        <section className={s.section}>
          <h3 className={s.h}>{T.trace}</h3>
          <table className={s.table} aria-label={T.trace}>
            <thead>
              <tr>
                <th>{T.link}</th>
                <th>{T.value}</th>
                <th>{T.how}</th>
                <th>{T.confidence}</th>
              </tr>
            </thead>
            <tbody>
              {detail.trace.map((t, i) => (
                <tr key={i}>
                  <td>{traceLabel(t.link)}</td>
                  <td>{t.value}</td>
                  <td>{t.how}</td>
                  <td>{confidenceLabel(t.confidence === undefined ? undefined : String(t.confidence))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}

      <section className={s.section}>
        <h3 className={s.h}>{T.attachments}</h3>
        <Attachments id={c.id} list={detail.attachments} />
        <Button icon="file-alt" variant="secondary" onClick={() => go(`/cases/${encodeURIComponent(c.id)}/report`)}>
          {T.writeReport}
        </Button>
      </section>
    </div>
  );
}
