// Bundles the app (src/module.tsx into dist/module.js) and the datasource it bundles
// (src/datasource/module.ts into dist/datasource/module.js) as the AMD modules Grafana's SystemJS
// loader takes, like the create-plugin scaffold's webpack output for an app with a nested plugin,
// then copies each plugin.json and its logos, and README, CHANGELOG, LICENSE at the top.
//
// The layout is the one Grafana's loader reads (pkg/plugins/manager/loader/finder: every
// plugin.json under the plugin's folder; one nested in another plugin's folder is that plugin's
// child, served as public/plugins/<app id>/datasource/module.js, its executable found beside its own
// plugin.json) and the one the validator checks (includesnested: the app's includes name
// datasource/plugin.json).
//
// Only names every supported Grafana major shares (scripts/shared-modules.mjs) stay external; the
// rest (@grafana/schema's runtime enums, react-dom/client, ...) is bundled. define() lists just the
// externals the bundle really requires, taken from esbuild's metafile.
//
//   node scripts/build.mjs                       dist/ for packaging
//   node scripts/build.mjs --out DIR --declare NAME
//       a variant in DIR whose define() also asks for NAME (the harness's negative test: Grafana
//       does not share NAME, so the loader must fail on it)
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sharedByAll } from './shared-modules.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values: args } = parseArgs({
  options: { out: { type: 'string' }, declare: { type: 'string', multiple: true, default: [] } },
});
const dist = path.resolve(args.out ?? path.join(root, 'dist'));
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

// Marks a bare import external only when Grafana shares that exact name.
const sharedOnly = {
  name: 'grafana-shared-only',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (a) =>
      sharedByAll.includes(a.path) || args.declare.includes(a.path) ? { path: a.path, external: true } : undefined
    );
  },
};

// dist/ starts clean but for what `make plugin-backend` writes (the executables beside the
// datasource's plugin.json, the Go build manifest): no file of an older layout gets packaged.
const keep = (rel) => rel === 'go_plugin_build_manifest' || /^datasource\/gpx_[^/]+$/.test(rel);
const prune = (dir) => {
  if (!fs.existsSync(dir)) {
    return;
  }
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      prune(p);
      if (fs.readdirSync(p).length === 0) {
        fs.rmdirSync(p);
      }
    } else if (!keep(path.relative(dist, p).split(path.sep).join('/'))) {
      fs.rmSync(p);
    }
  }
};
prune(dist);

// Each plugin of the bundle: its entry, and its folder under src/ and dist/.
const plugins = [
  { entry: 'src/module.tsx', dir: '' },
  { entry: 'src/datasource/module.ts', dir: 'datasource' },
];

async function bundle({ entry, dir }) {
  const out = path.join(dist, dir);
  const src = path.join(root, 'src', dir);
  fs.mkdirSync(path.join(out, 'img'), { recursive: true });
  const result = await build({
    entryPoints: [path.join(root, entry)],
    outfile: path.join(out, 'module.js'),
    bundle: true,
    format: 'cjs',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    sourcemap: 'external',
    metafile: true,
    plugins: [sharedOnly],
    write: false,
    legalComments: 'none',
    jsx: 'transform',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const file = (suffix) => result.outputFiles.find((f) => f.path.endsWith(suffix));
  const used = new Set();
  for (const o of Object.values(result.metafile.outputs)) {
    for (const imp of o.imports) {
      if (imp.external) {
        used.add(imp.path);
      }
    }
  }
  const deps = [...used, ...args.declare.filter((n) => !used.has(n))].sort();
  const stray = deps.filter((n) => !sharedByAll.includes(n) && !args.declare.includes(n));
  if (stray.length > 0) {
    throw new Error(`${entry}: externals Grafana does not share: ${stray.join(', ')}`);
  }

  // The CommonJS bundle goes inside define([...deps]) on a line of its own, so the source map only
  // gains one leading line (one ';' in its mappings).
  const body = file('module.js').text.replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n');
  const amd =
    `define(${JSON.stringify(deps)},function(){var __ext=Array.prototype.slice.call(arguments);` +
    `var __names=${JSON.stringify(deps)};function require(n){var i=__names.indexOf(n);if(i<0)throw new Error('module '+n+' is not a declared dependency');return __ext[i];}` +
    `var module={exports:{}},exports=module.exports;\n${body}return module.exports;});\n` +
    `//# sourceMappingURL=module.js.map\n`;
  fs.writeFileSync(path.join(out, 'module.js'), amd);

  // Sources named relative to src/ (./app/App.tsx, ./datasource/datasource.ts) for both modules, as
  // one webpack build of an app with nested plugins names them; node_modules as ../node_modules/...:
  // the layout Grafana's validator compares against the source tree (pkg/sourcemap in
  // plugin-validator).
  const map = JSON.parse(file('module.js.map').text);
  map.file = 'module.js';
  map.sources = map.sources.map((s) => {
    const abs = path.resolve(out, s);
    const rel = path.relative(path.join(root, 'src'), abs);
    return rel.startsWith('..') ? path.relative(root, abs).replace(/^/, '../') : './' + rel;
  });
  map.mappings = ';' + map.mappings;
  fs.writeFileSync(path.join(out, 'module.js.map'), JSON.stringify(map));

  const meta = fs
    .readFileSync(path.join(src, 'plugin.json'), 'utf8')
    .replace('%VERSION%', pkg.version)
    .replace('%TODAY%', new Date().toISOString().slice(0, 10));
  fs.writeFileSync(path.join(out, 'plugin.json'), meta);
  for (const f of fs.readdirSync(path.join(src, 'img'))) {
    fs.copyFileSync(path.join(src, 'img', f), path.join(out, 'img', f));
  }
  console.log(`${path.relative(root, out)}/module.js ${amd.length} bytes, define(${deps.join(', ')})`);
}

for (const p of plugins) {
  await bundle(p);
}
for (const f of ['README.md', 'CHANGELOG.md', 'LICENSE']) {
  fs.copyFileSync(path.join(root, f), path.join(dist, f));
}
