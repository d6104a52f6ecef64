// One Grafana version line: plugin.json's grafanaDependency starts at the @grafana/* version the
// plugin builds against (package.json), the compose file runs a Grafana inside that range, and the
// harness (scripts/shared-modules.mjs) covers the oldest and the newest major the range admits.
import fs from 'node:fs';
import path from 'node:path';
import { supportedMajors } from './shared-modules.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const errs = [];
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const meta = JSON.parse(fs.readFileSync(path.join(root, 'src', 'plugin.json'), 'utf8'));
// The datasource the app bundles claims the same Grafana versions as the app.
const dsMeta = JSON.parse(fs.readFileSync(path.join(root, 'src', 'datasource', 'plugin.json'), 'utf8'));
const compose = fs.readFileSync(path.join(root, '..', 'docker-compose.yml'), 'utf8');

const parse = (v) => v.split('.').map(Number);
const cmp = (a, b) => {
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    if (x[i] !== y[i]) {
      return x[i] - y[i];
    }
  }
  return 0;
};
const dep = meta.dependencies.grafanaDependency;
if (dsMeta.dependencies?.grafanaDependency !== dep) {
  errs.push(`datasource/plugin.json's grafanaDependency ${JSON.stringify(dsMeta.dependencies?.grafanaDependency)} is not the app's ${JSON.stringify(dep)}`);
}
const m = /^>=(\d+\.\d+\.\d+) <(\d+)\.0\.0$/.exec(dep);
if (!m) {
  errs.push(`grafanaDependency ${JSON.stringify(dep)} is not ">=X.Y.Z <N.0.0"`);
} else {
  const [, min, below] = m;
  for (const name of ['@grafana/data', '@grafana/runtime', '@grafana/ui', '@grafana/schema']) {
    if (pkg.dependencies[name] !== min) {
      errs.push(`${name} is ${pkg.dependencies[name]} in package.json, grafanaDependency starts at ${min}`);
    }
  }
  const img = /(?:image|GRAFANA_IMAGE):\s*grafana\/grafana(?:-oss)?:(\d+\.\d+\.\d+)\s*$/m.exec(compose);
  if (!img) {
    errs.push('docker-compose.yml has no grafana/grafana:X.Y.Z image (image: or the GRAFANA_IMAGE build arg)');
  } else if (cmp(img[1], min) < 0 || parse(img[1])[0] >= Number(below)) {
    errs.push(`compose runs Grafana ${img[1]}, outside ${dep}`);
  } else {
    // The Dockerfile's default (for a plain docker build) is the same Grafana.
    const df = fs.readFileSync(path.join(root, '..', 'deploy', 'grafana.Dockerfile'), 'utf8');
    const arg = /^ARG GRAFANA_IMAGE=grafana\/grafana(?:-oss)?:(\d+\.\d+\.\d+)\s*$/m.exec(df);
    if (!arg || arg[1] !== img[1]) {
      errs.push(`deploy/grafana.Dockerfile's GRAFANA_IMAGE default (${arg?.[1]}) is not compose's Grafana ${img[1]}`);
    }
  }
  const oldest = parse(min)[0];
  const newest = Number(below) - 1;
  for (const major of [oldest, newest]) {
    if (!supportedMajors.includes(major)) {
      errs.push(`grafanaDependency admits Grafana ${major}, the harness does not run it (supported: ${supportedMajors})`);
    }
  }
}
for (const e of errs) {
  console.log('FAIL:', e);
}
if (errs.length === 0) {
  console.log(`ok: Grafana ${dep}, @grafana/* ${pkg.dependencies['@grafana/data']}, harness majors ${supportedMajors}`);
}
process.exit(errs.length ? 1 : 0);
