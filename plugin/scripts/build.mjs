// Bundles src/module.ts into dist/module.js as an AMD module with react and @grafana/* external,
// like the create-plugin scaffold's webpack output, then copies plugin.json, logos, README, CHANGELOG.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dist = path.join(root, 'dist');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const externals = ['react', 'react-dom', '@grafana/data', '@grafana/runtime', '@grafana/ui', '@grafana/schema', 'rxjs', '@emotion/css'];

fs.mkdirSync(path.join(dist, 'img'), { recursive: true });
const result = await build({
  entryPoints: [path.join(root, 'src/module.ts')],
  bundle: true,
  format: 'cjs',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: false,
  external: externals,
  write: false,
  legalComments: 'none',
  define: { 'process.env.NODE_ENV': '"production"' },
});
// Grafana's SystemJS loader takes AMD: wrap the CommonJS bundle in define([...externals]).
const body = result.outputFiles[0].text;
const amd =
  `define(${JSON.stringify(externals)},function(){var __ext=Array.prototype.slice.call(arguments);` +
  `var __names=${JSON.stringify(externals)};function require(n){var i=__names.indexOf(n);if(i<0)throw new Error('unknown module '+n);return __ext[i];}` +
  `var module={exports:{}},exports=module.exports;${body}\nreturn module.exports;});\n`;
fs.writeFileSync(path.join(dist, 'module.js'), amd);

const meta = fs.readFileSync(path.join(root, 'src/plugin.json'), 'utf8')
  .replace('%VERSION%', pkg.version)
  .replace('%TODAY%', new Date().toISOString().slice(0, 10));
fs.writeFileSync(path.join(dist, 'plugin.json'), meta);
for (const f of fs.readdirSync(path.join(root, 'src/img'))) {
  fs.copyFileSync(path.join(root, 'src/img', f), path.join(dist, 'img', f));
}
for (const f of ['README.md', 'CHANGELOG.md']) {
  fs.copyFileSync(path.join(root, f), path.join(dist, f));
}
console.log(`dist/module.js ${amd.length} bytes`);
