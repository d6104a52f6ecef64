// The app's pages against the REAL backend: run by plugin/pkg/plugin/app_e2e_test.go
// (TestAppPagesAgainstBuiltBackend), which launches the built backend as Grafana does (real
// SQLite case store, ledger, VictoriaMetrics) and puts in front of it a stand-in for Grafana's
// API at MINEWATCH_API: POST /login {"user"} starts a session (cookie grafana_session), and
// /api/datasources/uid/<uid>/resources/<path> reaches the plugin's CallResource with the
// session's user. The page is the harness's Grafana shell of MINEWATCH_GRAFANA_MAJOR loading
// PLUGIN_DIST's module.js; its resource calls go to MINEWATCH_API as they would to Grafana.
// The report downloaded is saved as MINEWATCH_DOWNLOADS/report.docx for the Go test to compare
// with the store. The stand-in also answers Grafana's /api/plugins/<id>/settings and
// /api/datasources/uid/<uid>/health (the backend's CheckHealth) for the configuration page; the Go
// test checks what the settings POSTs carried.
//
//   not for `node --test harness/` (no backend there): the Go test runs it.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildShell, launch, loadInGrafana } from './harness.mjs';

const api = process.env.MINEWATCH_API;
const major = Number(process.env.MINEWATCH_GRAFANA_MAJOR);
const dist = process.env.PLUGIN_DIST;
const downloads = process.env.MINEWATCH_DOWNLOADS;
const BASE = '/a/minewatch-campaign-app';

let browser;
before(async () => {
  assert.ok(api && major && dist && downloads, 'MINEWATCH_API, MINEWATCH_GRAFANA_MAJOR, PLUGIN_DIST and MINEWATCH_DOWNLOADS are set by the Go test');
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Signs in to the stand-in Grafana as user: the browser then holds that user's session cookie. */
async function signIn(user) {
  const res = await fetch(`${api}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user }) });
  assert.equal(res.status, 200, `sign-in as ${user}`);
  const { session } = await res.json();
  await browser.context.addCookies([{ name: 'grafana_session', value: session, domain: '127.0.0.1', path: '/', httpOnly: true }]);
}

/** The page's resource calls, sent on to the stand-in Grafana with the browser's cookies. */
async function toGrafana(route) {
  const u = new URL(route.request().url());
  const response = await route.fetch({ url: `${api}${u.pathname}${u.search}` });
  await route.fulfill({ response });
}

test(`Grafana ${major}: a unit lead's disposition and written report through the real backend`, async () => {
  await signIn('lead-a');
  const run = await loadInGrafana({ browser, major, distDir: dist, shell: await buildShell(major), path: `${BASE}/cases`, route: toGrafana });
  const p = run.page;
  try {
    assert.deepEqual(run.result.errors, [], `page errors:\n${run.result.errors.join('\n')}\nconsole:\n${run.console.join('\n')}`);
    const app = p.locator('#app-root');

    // 我的待办 as u-a's lead: u-a's flagged IP only (u-b's is not listed), with its countdowns.
    const table = app.getByRole('table', { name: '我的待办 My cases' });
    await table.waitFor();
    const ids = await table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-case')));
    assert.deepEqual(ids, ['d~u-a~10.1.0.2'], "u-a's lead's open cases");
    const row = table.locator('tbody tr').first();
    assert.equal(await row.getAttribute('data-overdue'), 'false');
    // flagged since 20 h ago: 48 h to locate leaves 1 d 2–4 h, 72 h to report 2 d 2–4 h (the tracker
    // knows when flagging began to its one-hour precision, campaign.Bucket, on VictoriaMetrics' hour grid,
    // so the start may read up to two hours early depending on the minute the test runs)
    await row.getByText(/^剩 1天[234]小时 \/ 1d [234]h left$/).waitFor();
    await row.getByText(/^剩 2天[234]小时 \/ 2d [234]h left$/).waitFor();
    await row.getByText('机房B-07').waitFor();

    // 案件: open it from the list, record 已定位 with class 被动 and a note.
    await row.getByRole('link', { name: '10.1.0.2' }).click();
    assert.equal(decodeURIComponent(new URL(p.url()).pathname), `${BASE}/cases/d~u-a~10.1.0.2`);
    await app.getByText('审计链完整 Audit chain intact (0)').waitFor();
    let form = app.getByRole('form', { name: '记录处置 Record a disposition' });
    await form.getByRole('radio', { name: '已定位 located' }).check();
    await form.getByRole('radio', { name: '被动 passive' }).check();
    await form.getByLabel('说明 Note').fill('宿舍楼学生电脑中木马，已断网');
    await form.getByRole('button', { name: '提交 Submit' }).click();
    // The first disposition opened the store's case: the page moves to its id and shows the entry.
    await p.waitForURL(/\/cases\/\d+$/);
    const caseId = new URL(p.url()).pathname.split('/').at(-1);
    const timeline = app.getByRole('table', { name: '处置时间线 Timeline' });
    await timeline.getByText('lead-a (Editor)').waitFor();
    await timeline.getByText('宿舍楼学生电脑中木马，已断网').waitFor();
    await timeline.getByText('grafana').waitFor();
    await app.getByText(/^审计链完整 Audit chain intact \(2\)$/).waitFor();

    // u-b's lead on the same browser: the case page of u-a is refused by the backend (403) ...
    await signIn('lead-b');
    form = app.getByRole('form', { name: '记录处置 Record a disposition' });
    await form.getByRole('radio', { name: '被动 passive' }).check();
    await form.getByRole('button', { name: '提交 Submit' }).click();
    await app.getByText(/^无权处置 \/ refused \(403\): 无权登记 unit u-a is not one of lead-b's units$/).waitFor();
    // ... and so is reading it.
    await p.reload();
    await p.waitForFunction(() => window.__harnessResult !== undefined);
    await app.getByText(new RegExp(`^无权查看 case ${caseId} is not one of lead-b's units' cases`)).waitFor();
    assert.equal(await app.getByRole('form', { name: '记录处置 Record a disposition' }).count(), 0);

    // 书面报告 as u-a's lead again: filled from the case, completed, downloaded as DOCX.
    await signIn('lead-a');
    await p.goto(new URL(`${BASE}/cases/${caseId}/report`, p.url()).href);
    await p.waitForFunction(() => window.__harnessResult !== undefined);
    const preview = app.getByLabel('报告预览 Preview');
    await preview.getByText('机房B-07').waitFor();
    await preview.getByText(/宿舍楼学生电脑中木马，已断网 — lead-a/).waitFor();
    assert.equal(await app.locator('#minewatch-reporter').inputValue(), '张老师');
    await app.locator('#minewatch-cause').fill('学生私自运行挖矿程序');
    await app.locator('#minewatch-measures').fill('重装系统，加装终端管控');
    await app.locator('#minewatch-phone').fill('0371-12345678');
    const [download] = await Promise.all([p.waitForEvent('download'), app.getByRole('button', { name: '生成并下载 DOCX / Generate DOCX' }).click()]);
    assert.match(download.suggestedFilename(), /^书面报告-u-a-10\.1\.0\.2-\d{8}\.docx$/);
    const file = path.join(downloads, 'report.docx');
    await download.saveAs(file);
    const body = fs.readFileSync(file);
    assert.equal(body.subarray(0, 2).toString(), 'PK', 'the report is a DOCX (a zip)');
    const sha = crypto.createHash('sha256').update(body).digest('hex');

    // After a reload the case page lists it under attachments, with the SHA-256 of what arrived.
    await p.goto(new URL(`${BASE}/cases/${caseId}`, p.url()).href);
    await p.waitForFunction(() => window.__harnessResult !== undefined);
    const attachments = app.getByRole('table', { name: '附件 Attachments' });
    await attachments.getByText(download.suggestedFilename()).waitFor();
    assert.equal(await attachments.locator('td[title]').first().getAttribute('title'), sha);
    await attachments.getByText('lead-a').waitFor();
    // case opened, the disposition, the attachment: all in the chain, and it verifies
    await app.getByText(/^审计链完整 Audit chain intact \(3\)$/).waitFor();
  } finally {
    await run.close();
  }
});

/** Waits for the page Grafana loads again after a save (window.location.reload). */
async function reloaded(p, action) {
  const load = p.waitForEvent('load');
  await action();
  await load;
  await p.waitForFunction(() => window.__harnessResult !== undefined, null, { timeout: 120000 });
  return p.evaluate(() => window.__harnessResult);
}

test(`Grafana ${major}: the configuration page with the real backend's status, a save and a refused save`, async () => {
  await signIn('admin');
  const run = await loadInGrafana({
    browser,
    major,
    distDir: dist,
    shell: await buildShell(major),
    path: '/plugins/minewatch-campaign-app?page=configuration',
    route: toGrafana,
    apiRoute: toGrafana,
  });
  const p = run.page;
  try {
    assert.deepEqual(run.result.errors, [], `page errors:\n${run.result.errors.join('\n')}\nconsole:\n${run.console.join('\n')}`);
    const config = p.getByTestId('minewatch-config');
    await config.waitFor();
    const status = config.getByTestId('minewatch-status');
    const settled = () => p.locator('[data-testid="minewatch-status"][data-busy="false"]').waitFor();
    const rows = () => status.locator('tr[data-part]').evaluateAll((trs) => trs.map((t) => [t.dataset.part, t.dataset.state]));

    // Nothing saved: the datasource found by its type; the backend's health: all three parts reachable.
    await config.getByTestId('minewatch-ds-default').getByText('(minewatch-harness)', { exact: false }).waitFor();
    await settled();
    assert.deepEqual(await rows(), [['vm', 'ok'], ['store', 'ok'], ['ledger', 'ok']]);
    await status.getByText('VictoriaMetrics 连接正常 connected').waitFor();
    await status.getByText('案件库可读写 case store readable and writable').waitFor();
    await status.getByText('台账已读取：5 个单位，其中 2 个登记了负责人邮箱 / ledger read: 5 units, 2 with a lead email').waitFor();
    await config.getByTestId('minewatch-me').getByText(/^你在此数据源中的身份 \/ you in this datasource：admin（Admin） · 教育局 Bureau · \d+ 个单位 units$/).waitFor();

    // The second datasource, chosen before saving: what its backend says is wrong and what to fix.
    await config.locator('#minewatch-datasource').click();
    const options = p.getByTestId(/Select option/);
    await options.first().waitFor();
    assert.deepEqual(await options.allTextContents(), ['minewatch 挖矿监测', 'minewatch 挖矿监测 (区县)']);
    await options.filter({ hasText: '区县' }).click();
    await status.locator('tr[data-part="vm"][data-state="failed"]').waitFor();
    await settled();
    assert.deepEqual(await rows(), [['vm', 'failed'], ['store', 'unset'], ['ledger', 'unset']]);
    await status.getByText(/^VictoriaMetrics 查询失败 query failed at http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query: /).waitFor();
    await status.getByText('处理 Fix：在数据源设置中填写 caseStore', { exact: false }).waitFor();

    // Back to the bundled one, enable, save: the page loads again with what Grafana stored.
    await config.locator('#minewatch-datasource').click();
    await p.getByTestId(/Select option/).filter({ hasNotText: '区县' }).click();
    await status.locator('tr[data-part="vm"][data-state="ok"]').waitFor();
    assert.equal(await config.getByRole('switch').isChecked(), false);
    await config.getByRole('switch').check({ force: true });
    const again = await reloaded(p, () => config.getByRole('button', { name: '保存设置 Save settings' }).click());
    assert.deepEqual(again.errors, []);
    await config.waitFor();
    assert.equal(await config.getByRole('switch').isChecked(), true);
    assert.equal(await config.getByTestId('minewatch-ds-default').count(), 0, 'the saved datasourceUid is not shown as chosen');
    await config.getByText('minewatch 挖矿监测', { exact: true }).waitFor();
    await settled();
    assert.deepEqual(await rows(), [['vm', 'ok'], ['store', 'ok'], ['ledger', 'ok']]);

    // As u-a's lead (an Editor: no plugins:write) the same save is refused with Grafana's words.
    await signIn('lead-a');
    await p.evaluate(() => (window.__stillHere = true));
    await config.getByRole('button', { name: '保存设置 Save settings' }).click();
    await config.getByText("保存失败 Save failed (403): You'll need additional permissions to perform this action. Permissions needed: plugins:write").waitFor();
    assert.equal(await p.evaluate(() => window.__stillHere), true, 'the page reloaded after a refused save');
  } finally {
    await run.close();
  }
});
