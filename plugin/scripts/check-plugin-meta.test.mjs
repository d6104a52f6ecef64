// check-plugin-meta.mjs must pass the plugin's own plugin.json files and fail on broken copies of
// them, naming the line of the fault.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const app = path.join(root, 'src', 'plugin.json');
const ds = path.join(root, 'src', 'datasource', 'plugin.json');
const check = (...files) => spawnSync(process.execPath, [path.join(root, 'scripts', 'check-plugin-meta.mjs'), ...files], { encoding: 'utf8' });

test('the plugin.json files of the app and the datasource pass', () => {
  const r = check(app, ds);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal((r.stdout.match(/^ok: /gm) ?? []).length, 2, r.stdout);
});

const broken = [
  ['a misspelt key', app, (m) => (m.dependencies.grafanaDependancy = m.dependencies.grafanaDependency, delete m.dependencies.grafanaDependency), /grafanaDependancy/],
  ['an unknown include type', app, (m) => (m.includes[0].type = 'pages'), /"pages"/],
  ['a required key missing', app, (m) => delete m.info.version, /'version' is missing/],
  ['a plugin type outside the enum', app, (m) => (m.type = 'apps'), /"type" is "apps"/],
  ['a flag of the wrong type', ds, (m) => (m.backend = 'true'), /not assignable to type 'boolean/],
  ['a key Grafana serves but the file may not set', ds, (m) => (m.module = 'module.js'), /'"module"' does not exist/],
  ['not JSON', app, null, /not JSON/],
];
// One run of the checker over every broken copy (tsc is slow to start), then each one's verdict.
test('fails on each broken copy, at its own file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plugin-meta-test-'));
  try {
    const files = broken.map(([, base, spoil], i) => {
      const f = path.join(dir, `broken${i}.json`);
      if (spoil) {
        const m = JSON.parse(fs.readFileSync(base, 'utf8'));
        spoil(m);
        fs.writeFileSync(f, JSON.stringify(m, null, 2));
      } else {
        fs.writeFileSync(f, fs.readFileSync(base, 'utf8').replace('{', '{,'));
      }
      return f;
    });
    const r = check(...files);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /^ok: /m);
    for (const [i, [what, , , want]] of broken.entries()) {
      await t.test(what, () => {
        const mine = r.stdout.split('\n').filter((l) => l.startsWith(`FAIL: ${files[i]}`));
        assert.ok(mine.length > 0, r.stdout);
        assert.match(mine.join('\n'), want);
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
