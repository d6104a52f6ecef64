// The app's pages as Grafana shows them, for every Grafana major the plugin claims: the packaged
// dist/module.js loaded through SystemJS with only Grafana's shared modules, its root page rendered
// at /a/minewatch-campaign-app/cases with the real @grafana/* packages, and the backend's resource
// calls answered by app-backend.mjs (the real backend's own tests are in plugin/pkg). A unit lead
// sees the countdowns, records "located" with class and note, is refused (403) with the backend's
// words, files the written report, and downloads the meeting pack. The configuration page is
// rendered as Grafana's plugin details page renders it (/plugins/<id>?page=configuration), against
// fakeGrafana's plugin settings and health answers: it lists the minewatch datasources only,
// shows each one's status, saves jsonData.datasourceUid as Grafana would receive it, reloads,
// and says why a refused save was refused.
//
//   node --test harness/          (make plugin-harness; needs dist/ from make plugin-frontend)
// MINEWATCH_SCREENSHOTS=DIR also saves the pages' pictures there.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildShell, launch, loadInGrafana, pluginRoot } from './harness.mjs';
import { fakeBackend, fakeGrafana } from './app-backend.mjs';
import { sharedModules, supportedMajors } from '../scripts/shared-modules.mjs';

const dist = process.env.PLUGIN_DIST ? path.resolve(process.env.PLUGIN_DIST) : path.join(pluginRoot, 'dist');
const shots = process.env.MINEWATCH_SCREENSHOTS;
const allowed404 = (url) => url.startsWith('/public/fonts/');

let browser;
before(async () => {
  assert.ok(fs.existsSync(path.join(dist, 'module.js')), `${dist}/module.js missing: run make plugin-frontend`);
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Waits for the page Grafana loads again after a save (window.location.reload). */
async function reloaded(p, action) {
  const load = p.waitForEvent('load');
  await action();
  await load;
  await p.waitForFunction(() => window.__harnessResult !== undefined, null, { timeout: 120000 });
  return p.evaluate(() => window.__harnessResult);
}

for (const major of supportedMajors) {
  describe(`Grafana ${major}: the app`, () => {
    test('the configuration page: datasource picker, status, save, refusal', async () => {
      const meta = JSON.parse(fs.readFileSync(path.join(dist, 'plugin.json'), 'utf8'));
      const grafana = fakeGrafana(meta);
      const backend = fakeBackend();
      const run = await loadInGrafana({
        browser,
        major,
        distDir: dist,
        shell: await buildShell(major),
        path: `/plugins/${meta.id}?page=configuration`,
        route: backend.route,
        apiRoute: grafana.route,
      });
      const p = run.page;
      try {
        const r = run.result;
        assert.deepEqual(r.errors, [], `page errors:\n${r.errors.join('\n')}\nconsole:\n${run.console.join('\n')}`);
        assert.equal(r.checks.appPlugin, true);
        for (const n of r.resolved.filter((x) => !x.startsWith('/'))) {
          assert.ok(sharedModules[major].includes(n), `${n} is not shared by Grafana ${major}`);
        }
        assert.deepEqual(r.checks.configPages, [{ id: 'configuration', title: '配置 Configuration', icon: 'cog' }]);
        const app = p.locator('#app-root');
        const config = app.getByTestId('minewatch-config');
        await config.waitFor();

        // Nothing saved yet: the pages use the bundled datasource found by its type, and its status shows.
        await config.getByTestId('minewatch-ds-default').getByText('minewatch 挖矿监测 (minewatch-harness)', { exact: false }).waitFor();
        const status = config.getByTestId('minewatch-status');
        await p.locator('[data-testid="minewatch-status"][data-busy="false"]').waitFor();
        const rows = async () => status.locator('tr[data-part]').evaluateAll((trs) => trs.map((t) => [t.dataset.part, t.dataset.state]));
        assert.deepEqual(await rows(), [['vm', 'ok'], ['store', 'ok'], ['ledger', 'ok']]);
        await status.getByText('台账已读取：12 个单位，其中 12 个登记了负责人邮箱', { exact: false }).waitFor();
        await config.getByTestId('minewatch-me').getByText('lead1（Editor）', { exact: false }).waitFor();
        assert.equal(await config.getByRole('switch').isChecked(), false);

        // The picker offers the two minewatch datasources, not Prometheus.
        await config.locator('#minewatch-datasource').click();
        const options = p.getByTestId(/Select option/);
        await options.first().waitFor();
        assert.deepEqual(await options.allTextContents(), ['minewatch 挖矿监测', 'minewatch 挖矿监测 (区县)']);
        await options.filter({ hasText: '区县' }).click();
        // The district's datasource, before saving: its status says what is wrong and what to fix.
        await status.locator('tr[data-part="vm"][data-state="failed"]').waitFor();
        await status.getByText('处理 Fix：在数据源设置中检查 URL', { exact: false }).waitFor();
        assert.deepEqual(await rows(), [['vm', 'failed'], ['store', 'unset'], ['ledger', 'unset']]);
        assert.equal(await config.getByRole('link', { name: '打开数据源设置 Open the datasource settings' }).getAttribute('href'), '/connections/datasources/edit/minewatch-district');

        // Enable and save: the body Grafana receives, then the page loads again with the saved settings.
        await config.getByRole('switch').check({ force: true });
        const again = await reloaded(p, () => config.getByRole('button', { name: '保存设置 Save settings' }).click());
        assert.deepEqual(again.errors, []);
        assert.deepEqual(grafana.posts, [{ contentType: 'application/json', body: { enabled: true, pinned: true, jsonData: { datasourceUid: 'minewatch-district' } } }]);
        await config.waitFor();
        assert.equal(await config.getByRole('switch').isChecked(), true);
        await config.getByText('minewatch 挖矿监测 (区县)', { exact: true }).waitFor();
        assert.equal(await config.getByTestId('minewatch-ds-default').count(), 0);
        await status.locator('tr[data-part="vm"][data-state="failed"]').waitFor();
        if (shots) {
          fs.mkdirSync(shots, { recursive: true });
        }

        // Refused (as Grafana answers a user without plugins:write): the reason on the page, no reload.
        await config.locator('#minewatch-datasource').click();
        await p.getByTestId(/Select option/).filter({ hasText: '挖矿监测' }).filter({ hasNotText: '区县' }).click();
        await status.locator('tr[data-part="vm"][data-state="ok"]').waitFor();
        grafana.refuse = { status: 403, message: "You'll need additional permissions to perform this action. Permissions needed: plugins:write" };
        await p.evaluate(() => (window.__stillHere = true));
        await config.getByRole('button', { name: '保存设置 Save settings' }).click();
        await config
          .getByText("保存失败 Save failed (403): You'll need additional permissions to perform this action. Permissions needed: plugins:write")
          .waitFor();
        await config.getByText('需要 Grafana 组织管理员 (Admin) 或 plugins:write 权限 / needs org Admin (plugins:write)').waitFor();
        assert.equal(await p.evaluate(() => window.__stillHere), true, 'the page reloaded after a refused save');
        assert.deepEqual(grafana.posts.at(-1).body, { enabled: true, pinned: true, jsonData: { datasourceUid: 'minewatch-harness' } });
        if (shots) {
          // The picture: the working datasource saved (by an Admin now), every part of its status
          // in order, as a bureau admin sees the page once set up.
          grafana.refuse = undefined;
          await reloaded(p, () => config.getByRole('button', { name: '保存设置 Save settings' }).click());
          await config.waitFor();
          await status.locator('tr[data-part="ledger"][data-state="ok"]').waitFor();
          await status.getByText('案件库可读写 case store readable and writable', { exact: false }).waitFor();
          assert.deepEqual(await rows(), [['vm', 'ok'], ['store', 'ok'], ['ledger', 'ok']]);
          await app.screenshot({ path: path.join(shots, `app-config-grafana-${major}.png`) });
        }
        assert.deepEqual([...new Set(grafana.health)], ['minewatch-harness', 'minewatch-district']);
        // me from the config page; variables from the datasource's editors on the same page.
        const unknown = backend.requests.filter((q) => !['me', 'variables'].includes(q.path));
        assert.deepEqual(unknown, [], 'resource calls other than me and variables');
        assert.ok(backend.requests.some((q) => q.path === 'me' && q.uid === 'minewatch-district'), 'me asked of the chosen datasource');
      } finally {
        await run.close();
      }
    });

    test('my cases, a disposition, a refusal, the written report and the meeting pack', async () => {
      const backend = fakeBackend();
      const run = await loadInGrafana({
        browser,
        major,
        distDir: dist,
        shell: await buildShell(major),
        path: '/a/minewatch-campaign-app/cases',
        route: backend.route,
      });
      const p = run.page;
      try {
        const r = run.result;
        assert.deepEqual(r.errors, [], `page errors:\n${r.errors.join('\n')}\nconsole:\n${run.console.join('\n')}`);
        assert.equal(r.checks.appPlugin, true, 'module.js is not an AppPlugin of the shared @grafana/data');
        assert.equal(r.checks.appRoot, 'function');
        assert.equal(r.checks.datasourcePlugin, true, 'datasource/module.js is not a DataSourcePlugin');
        for (const n of r.resolved.filter((x) => !x.startsWith('/'))) {
          assert.ok(sharedModules[major].includes(n), `${n} is not shared by Grafana ${major}`);
        }
        const app = p.locator('#app-root');

        // 我的待办: the countdowns, the overdue one in the theme's error colour.
        // 5 h left when answered; a slow machine may show a few minutes less by the time it renders.
        const left = app.getByText(/^剩 (5小时0分|4小时[45]\d分) \/ (5h 0m|4h [45]\dm) left$/);
        await left.waitFor();
        assert.equal(await left.getAttribute('data-overdue'), 'false');
        const late = app.getByText(/^超期 (2小时59分|3小时[0-9]分|3小时1[0-9]分) \/ (2h 59m|3h 1?\dm) overdue$/);
        assert.equal(await late.getAttribute('data-overdue'), 'true');
        const [lateColour, red, plain] = await late.evaluate((el, want) => {
          const probe = document.createElement('span');
          probe.style.color = want;
          document.body.appendChild(probe);
          const out = [getComputedStyle(el).color, getComputedStyle(probe).color, getComputedStyle(el.closest('tr').querySelector('td')).color];
          probe.remove();
          return out;
        }, r.errorText);
        assert.equal(lateColour, red, 'the overdue countdown is not in the error colour');
        assert.notEqual(plain, red);
        await app.getByText('实验楼301 GPU工作站').waitFor();
        // The uid of the datasource found by its type, and the open cases asked for.
        assert.deepEqual(backend.requests.find((q) => q.path === 'cases'), { uid: 'minewatch-harness', method: 'GET', path: 'cases', query: { state: 'open' } });
        if (shots) {
          fs.mkdirSync(shots, { recursive: true });
          await app.screenshot({ path: path.join(shots, `app-my-cases-grafana-${major}.png`) });
        }

        // 案件: evidence, timeline with author, audit.
        await app.getByRole('link', { name: '10.20.3.21' }).click();
        await app.getByText('连接已知矿池 pool contact').waitFor();
        assert.equal(new URL(p.url()).pathname, '/a/minewatch-campaign-app/cases/c1');
        await app.getByText('minewatch (system)').waitFor();
        await app.getByText('审计链完整 Audit chain intact (1)').waitFor();

        // A unit lead records "located", class 被动, with a note.
        const form = app.getByRole('form', { name: '记录处置 Record a disposition' });
        await form.getByRole('radio', { name: '已定位 located' }).check();
        await form.getByRole('radio', { name: '被动 passive' }).check();
        await form.getByLabel('说明 Note').fill('木马挖矿，已断网重装 / trojan, reinstalled');
        await form.getByRole('button', { name: '提交 Submit' }).click();
        await app.getByText('已记录 Recorded: 已定位 located · 被动 passive').waitFor();
        assert.deepEqual(backend.posts.at(-1), {
          path: 'dispositions',
          contentType: 'application/json',
          body: { caseId: 'c1', ip: '10.20.3.21', unit: 'zd-no1', stage: 'located', class: '被动', note: '木马挖矿，已断网重装 / trojan, reinstalled' },
        });
        // The page reads the case again: the new entry with its author.
        await app.getByText('lead1 (Editor)').waitFor();
        if (shots) {
          await app.screenshot({ path: path.join(shots, `app-case-grafana-${major}.png`) });
        }

        // Refused: the backend's own words.
        backend.refuse = true;
        await form.getByRole('radio', { name: '主动 active' }).check();
        await form.getByRole('button', { name: '提交 Submit' }).click();
        await app.getByText('无权处置 / refused (403): 无权处置其他单位的案件 not your unit').waitFor();

        // 书面报告: the fields posted, the document downloaded, then listed under attachments.
        await app.getByRole('button', { name: '填写书面报告 Write the report' }).click();
        await app.getByText('报告预览 Preview', { exact: true }).first().waitFor();
        assert.equal(await app.locator('#minewatch-reporter').inputValue(), '张老师');
        await app.locator('#minewatch-cause').fill('学生私自运行挖矿程序');
        await app.locator('#minewatch-measures').fill('重装系统，加装终端管控');
        await app.locator('#minewatch-phone').fill('0371-12345678');
        const [download] = await Promise.all([
          p.waitForEvent('download'),
          app.getByRole('button', { name: '生成并下载 DOCX / Generate DOCX' }).click(),
        ]);
        assert.equal(download.suggestedFilename(), '书面报告-c1.docx');
        assert.deepEqual(backend.posts.at(-1), {
          path: 'cases/c1/report',
          contentType: 'application/json',
          body: { format: 'docx', fields: { cause: '学生私自运行挖矿程序', measures: '重装系统，加装终端管控', reporter: '张老师', phone: '0371-12345678' } },
        });
        await app.getByRole('cell', { name: '书面报告-c1.docx' }).waitFor();
        if (shots) {
          await app.screenshot({ path: path.join(shots, `app-report-grafana-${major}.png`) });
        }

        // 周会材料: the last complete week, the user's unit, PDF.
        await app.getByRole('tab', { name: '周会材料 Meeting pack' }).click();
        await app.getByRole('radio', { name: 'PDF' }).check();
        const [pack] = await Promise.all([p.waitForEvent('download'), app.getByRole('button', { name: '下载 Download' }).click()]);
        const asked = backend.requests.find((q) => q.path === 'pack');
        assert.equal(asked.query.unit, 'zd-no1');
        assert.equal(asked.query.format, 'pdf');
        assert.match(asked.query.week, /^\d{4}-W\d{2}$/);
        assert.equal(pack.suggestedFilename(), `周会材料-${asked.query.week}.pdf`);

        const missing = run.requests.filter((q) => q.status !== 200 && !allowed404(q.url));
        assert.deepEqual(missing, [], 'requests that failed');
        const unknown = backend.requests.filter((q) => !['me', 'cases', 'cases/c1', 'dispositions', 'cases/c1/report', 'variables', 'pack'].includes(q.path));
        assert.deepEqual(unknown, [], 'resource calls the fake backend does not know');
      } finally {
        await run.close();
      }
    });
  });
}
