// Checks plugin.json files (the app's and the nested datasource's) against the TypeScript types
// of plugin metadata that @grafana/data publishes (scripts/plugin-meta.ts), with tsc.
//
// Not Grafana's plugin.schema.json, which no npm package ships (see check-schema.mjs); what the
// types catch: unknown or misspelt keys, required keys missing, values of the wrong type, and
// values outside the enums (type, state, include type).
//
// Each file's JSON is written, unchanged, as the initialiser of a constant that `satisfies` the
// file type its "type" names: a literal, so tsc checks excess keys and the enums' string values
// (a JSON module import would widen every string and skip both). Errors are reported at the
// file's own line.
//
//   node scripts/check-plugin-meta.mjs plugin.json [...]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const types = { app: 'AppPluginFile', datasource: 'DataSourcePluginFile' };
const files = process.argv.slice(2);
if (!files.length) {
  console.error('usage: node scripts/check-plugin-meta.mjs plugin.json [...]');
  process.exit(2);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plugin-meta-'));
const header = 2; // lines before the JSON in each generated file
const generated = [];
let failed = 0;
files.forEach((f, i) => {
  const text = fs.readFileSync(f, 'utf8');
  let meta;
  try {
    meta = JSON.parse(text);
  } catch (e) {
    console.log(`FAIL: ${f}: not JSON: ${e.message}`);
    failed++;
    return;
  }
  const type = types[meta.type];
  if (!type) {
    console.log(`FAIL: ${f}: "type" is ${JSON.stringify(meta.type)}; this check knows ${Object.keys(types).join(', ')}`);
    failed++;
    return;
  }
  const ts = path.join(dir, `meta${i}.ts`);
  fs.writeFileSync(ts, `import type { ${type} } from ${JSON.stringify(path.join(root, 'scripts', 'plugin-meta'))};\n` + `export const meta =\n${text.trimEnd()} satisfies ${type};\n`);
  generated.push({ ts, f });
});
if (generated.length) {
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, target: 'ES2020', module: 'ESNext', moduleResolution: 'bundler', skipLibCheck: true, types: [] },
      files: generated.map((g) => g.ts),
    })
  );
  const tsc = spawnSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-p', dir, '--pretty', 'false'], { encoding: 'utf8' });
  const out = `${tsc.stdout}${tsc.stderr}`;
  // tsc prints "<path relative to cwd>(line,col): error …", then indented continuation lines.
  const errors = [];
  for (const l of out.split('\n')) {
    const m = l.match(/^(.+?)\((\d+),(\d+)\): (.*)$/);
    if (m) {
      errors.push({ file: path.resolve(m[1]), line: Number(m[2]), col: m[3], text: m[4] });
    } else if (l.trim() && errors.length) {
      errors.at(-1).text += ' ' + l.trim();
    }
  }
  for (const { ts, f } of generated) {
    const mine = errors.filter((e) => e.file === ts);
    if (!mine.length) {
      console.log(`ok: ${f} matches @grafana/data's plugin metadata types`);
      continue;
    }
    failed++;
    for (const e of mine) {
      console.log(`FAIL: ${f}:${e.line - header}:${e.col}: ${e.text}`);
    }
  }
  if (tsc.status !== 0 && !failed) {
    console.log(`FAIL: tsc: ${out}`);
    failed++;
  }
}
fs.rmSync(dir, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
