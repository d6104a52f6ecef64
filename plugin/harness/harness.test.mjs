// The packaged plugin as Grafana loads it, for every Grafana major the plugin claims: the app's
// module.js, then the nested datasource's (datasource/module.js) with its editors; and the same
// loader refusing a module.js that asks for a name Grafana does not share. The app's pages:
// app.test.mjs.
//
//   node --test harness/          (make plugin-harness; needs dist/ from make plugin-frontend)
// MINEWATCH_SCREENSHOTS=DIR also saves the editors' picture there (make screenshots).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildShell, launch, loadInGrafana, pluginRoot } from './harness.mjs';
import { sharedModules, supportedMajors } from '../scripts/shared-modules.mjs';

const dist = process.env.PLUGIN_DIST ? path.resolve(process.env.PLUGIN_DIST) : path.join(pluginRoot, 'dist');
const shots = process.env.MINEWATCH_SCREENSHOTS;

// Requests that may 404: Grafana's own web fonts live in its public/ folder, not in any npm package
// (the page falls back to the system's Noto fonts).
const allowed404 = (url) => url.startsWith('/public/fonts/');

let browser;
const shells = {};
before(async () => {
  assert.ok(fs.existsSync(path.join(dist, 'module.js')), `${dist}/module.js missing: run make plugin-frontend`);
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const shellFor = async (major) => (shells[major] ??= await buildShell(major));

for (const major of supportedMajors) {
  describe(`Grafana ${major}`, () => {
    test('module.js loads through SystemJS with only the shared modules, editors render', async () => {
      const run = await loadInGrafana({ browser, major, distDir: dist, shell: await shellFor(major) });
      try {
        const r = run.result;
        assert.deepEqual(r.errors, [], `page errors:\n${r.errors.join('\n')}\nconsole:\n${run.console.join('\n')}`);
        assert.equal(r.failed, undefined);
        const missing = run.requests.filter((q) => q.status !== 200 && !allowed404(q.url));
        assert.deepEqual(missing, [], 'requests that failed');
        // Every name module.js asked for is in Grafana's list, and the harness gave a real module.
        const asked = r.resolved.filter((n) => !n.startsWith('/'));
        assert.ok(asked.includes('@grafana/data') && asked.includes('react'), `resolved: ${asked}`);
        for (const n of asked) {
          assert.ok(sharedModules[major].includes(n), `${n} is not shared by Grafana ${major}`);
        }
        assert.deepEqual(r.notProvided, []);
        assert.equal(r.checks.appPlugin, true, 'module.js is not an AppPlugin of the shared @grafana/data');
        assert.equal(r.checks.datasourcePlugin, true, 'datasource/module.js is not a DataSourcePlugin of the shared @grafana/data');
        assert.equal(r.checks.datasourceWithBackend, true, 'DataSource does not extend the shared DataSourceWithBackend');
        assert.deepEqual(r.checks.components, {
          ConfigEditor: 'function',
          QueryEditor: 'function',
          VariableQueryEditor: 'function',
        });
        assert.deepEqual(r.defaultQuery, { queryType: 'tracker' });
        // Annotation support (episodes, dispositions) through Grafana's standard annotation handling.
        assert.deepEqual(r.annotationDefault, { queryType: 'annotations' });
        // Multi-value $unit becomes one entry per unit, through the template service it was given.
        assert.deepEqual(r.interpolated.units, ['u-001', 'u-002']);
        assert.equal(r.interpolated.week, '2026-W47');

        const p = run.page;
        // Config editor: URL, auth, campaign settings, scope; the bearer token shown as configured.
        for (const label of ['地址 URL', '超时 Timeout', '用户名 Basic auth user', '清零静默期 Quiet period',
          '定位时限 Locate deadline', '报告时限 Report deadline', '时区 Time zone', '反复阈值 Relapse limit']) {
          await p.locator('#config-editor').getByLabel(label, { exact: true }).waitFor();
        }
        assert.equal(await p.locator('#config-editor').getByLabel('地址 URL', { exact: true }).inputValue(), 'http://127.0.0.1:8428');
        assert.equal(await p.locator('#config-editor').getByLabel('时区 Time zone', { exact: true }).inputValue(), 'Asia/Shanghai');
        await p.locator('#config-editor').getByRole('button', { name: 'Reset' }).waitFor();
        // Typing reaches onOptionsChange.
        await p.locator('#config-editor').getByLabel('超时 Timeout', { exact: true }).fill('45s');
        const changes = await p.evaluate(() => window.__harnessChanges);
        assert.ok(changes.some((c) => c.editor === 'config' && c.jsonData?.timeout === '45s'), JSON.stringify(changes));

        // Query editor: the query type select shows the tracker, with units/sectors/districts/states.
        const q = p.locator('#query-editor');
        await q.getByText('IP清零台账 tracker').waitFor();
        for (const label of ['单位 Units', '行业 Sectors', '区县 Districts', '状态 States']) {
          await q.getByText(label, { exact: true }).waitFor();
        }
        // Switching to MetricsQL shows the expression field and runs the query.
        await q.locator('#minewatch-query-type').click();
        await p.getByText('MetricsQL', { exact: true }).click();
        await q.getByLabel('表达式 Expression').waitFor();
        const qc = await p.evaluate(() => window.__harnessChanges.filter((c) => c.editor === 'query'));
        assert.ok(qc.some((c) => c.query?.queryType === 'metricsql'), JSON.stringify(qc));
        assert.ok(qc.some((c) => c.run), 'onRunQuery not called');
        await q.locator('#minewatch-query-type').click();
        await p.getByText('IP清零台账 tracker', { exact: true }).last().click();
        await q.getByText('状态 States', { exact: true }).waitFor();

        // Variable editor: the kind select, and choosing one reports a definition.
        const v = p.locator('#variable-editor');
        await v.getByText('单位 units').waitFor();
        await v.locator('#minewatch-variable-kind').click();
        await p.getByText('周 weeks', { exact: true }).click();
        const vc = await p.evaluate(() => window.__harnessChanges.filter((c) => c.editor === 'variable'));
        assert.deepEqual(vc.at(-1), { editor: 'variable', query: { variableKind: 'weeks' }, definition: 'minewatch weeks' });

        if (shots) {
          await p.mouse.click(1, 1);
          await p.locator('#config-editor').getByLabel('超时 Timeout', { exact: true }).fill('');
          await p.locator('#config-editor').getByLabel('超时 Timeout', { exact: true }).blur();
          fs.mkdirSync(shots, { recursive: true });
          await p.screenshot({ path: path.join(shots, `plugin-editors-grafana-${major}.png`), fullPage: true });
        }
      } finally {
        await run.close();
      }
    });
  });
}

// The bug this build once had: define() asking for @grafana/schema. Grafana's loader does not know
// the name, fetches it as a URL, gets a 404 and the plugin does not load.
describe('a module.js declaring a module Grafana does not share', () => {
  test('fails to load with a 404 for @grafana/schema, for every major', async () => {
    const variant = fs.mkdtempSync(path.join(os.tmpdir(), 'minewatch-variant-'));
    try {
      execFileSync(process.execPath, [path.join(pluginRoot, 'scripts', 'build.mjs'), '--out', variant, '--declare', '@grafana/schema'], {
        cwd: pluginRoot,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      assert.match(fs.readFileSync(path.join(variant, 'module.js'), 'utf8'), /^define\(\[[^\]]*"@grafana\/schema"/);
      for (const major of supportedMajors) {
        const run = await loadInGrafana({ browser, major, distDir: variant, shell: await shellFor(major) });
        try {
          const r = run.result;
          assert.equal(r.failed, true, `Grafana ${major}: the variant loaded`);
          const text = r.errors.join('\n');
          assert.match(text, /@grafana\/schema/, text);
          assert.ok(
            run.requests.some((q) => q.url === '/@grafana/schema' && q.status === 404),
            `Grafana ${major}: no 404 for /@grafana/schema in ${JSON.stringify(run.requests)}`
          );
          assert.ok(run.console.some((l) => l.includes("failed to resolve '@grafana/schema'")), run.console.join('\n'));
        } finally {
          await run.close();
        }
      }
    } finally {
      fs.rmSync(variant, { recursive: true, force: true });
    }
  });
});
