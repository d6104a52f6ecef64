// Grafana-faithful harness, node side: builds the browser shell for one Grafana major from that
// major's real @grafana/* packages, serves it with SystemJS and a plugin's dist/ on 127.0.0.1, and
// drives Debian's chromium through playwright-core (never a downloaded browser).
import { build } from 'esbuild';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { sharedModules } from '../scripts/shared-modules.mjs';

export const pluginRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

// Where each major's @grafana/* packages live: 11 is what the plugin builds against
// (../package.json), 12 a package of its own (grafana-12/package.json, own lock file).
export const majors = {
  11: pluginRoot,
  12: path.join(pluginRoot, 'harness', 'grafana-12'),
};

export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

const unstableSource = (names) => {
  const list = names.filter((n) => n.endsWith('/unstable'));
  return (
    list.map((n, i) => `import * as u${i} from '${n}';`).join('\n') +
    `\nexport const unstableModules = {${list.map((n, i) => `'${n}': u${i}`).join(', ')}};\n`
  );
};

/** Bundles shell.jsx (or another entry) with the modules of the given major; returns the IIFE text. */
export async function buildShell(major, entry = path.join(pluginRoot, 'harness', 'shell.jsx')) {
  const root = majors[major];
  if (!fs.existsSync(path.join(root, 'node_modules', '@grafana', 'ui'))) {
    throw new Error(`no @grafana/ui for Grafana ${major} under ${root}: run npm ci there (make plugin-deps)`);
  }
  const shell = entry;
  // Bare imports of the shell itself resolve in the major's tree; their own imports then stay there.
  const fromMajor = {
    name: 'from-major',
    setup(b) {
      b.onResolve({ filter: /^harness-major$/ }, () => ({ path: 'harness-major', namespace: 'harness' }));
      b.onLoad({ filter: /.*/, namespace: 'harness' }, () => ({
        contents: unstableSource(sharedModules[major]),
        resolveDir: root,
        loader: 'js',
      }));
      b.onResolve({ filter: /^[^./]/ }, async (a) => {
        if (a.pluginData === 'again') {
          return undefined;
        }
        // The @grafana/* packages are taken in their CommonJS build: their ESM build (.mjs) makes
        // esbuild apply Node's interop to default imports of CommonJS files (react-use/lib/*),
        // where Grafana's webpack honours __esModule.
        const grafana = /^@grafana\/(data|runtime|ui|schema|e2e-selectors|i18n)(\/.*)?$/.test(a.path);
        if (a.importer !== shell && !grafana) {
          return undefined;
        }
        return b.resolve(a.path, {
          kind: grafana ? 'require-call' : a.kind,
          resolveDir: a.importer === shell ? root : a.resolveDir,
          pluginData: 'again',
        });
      });
    },
  };
  const out = await build({
    entryPoints: [shell],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    jsx: 'transform',
    write: false,
    logLevel: 'error',
    plugins: [fromMajor],
    loader: { '.svg': 'text', '.woff2': 'empty', '.woff': 'empty', '.css': 'empty' },
    define: { 'process.env.NODE_ENV': '"production"', global: 'window' },
  });
  return out.outputFiles[0].text;
}

/** Reads dist/plugin.json and finds the datasource (top level, or nested in an app plugin). */
export function describePlugin(distDir) {
  const top = JSON.parse(fs.readFileSync(path.join(distDir, 'plugin.json'), 'utf8'));
  const base = `/public/plugins/${top.id}`;
  if (top.type === 'datasource') {
    return { id: top.id, datasource: { module: `${base}/module.js`, meta: top } };
  }
  if (top.type === 'app') {
    for (const sub of fs.readdirSync(distDir, { withFileTypes: true })) {
      const pj = path.join(distDir, sub.name, 'plugin.json');
      if (sub.isDirectory() && fs.existsSync(pj)) {
        const meta = JSON.parse(fs.readFileSync(pj, 'utf8'));
        if (meta.type === 'datasource') {
          return {
            id: top.id,
            app: { module: `${base}/module.js`, meta: top },
            datasource: { module: `${base}/${sub.name}/module.js`, meta },
          };
        }
      }
    }
    throw new Error(`${distDir}: app plugin without a nested datasource`);
  }
  throw new Error(`${distDir}: plugin type ${top.type} not handled by the harness`);
}

const page = (config) => `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>minewatch harness</title>
<style>
  body { margin: 0; background: #111217; color: #ccccdc; font-family: "Noto Sans CJK SC", "Noto Sans", sans-serif; font-size: 14px; }
  body > section { padding: 16px 24px; border-bottom: 1px solid #2c3235; }
  body > section > h2 { font-size: 16px; font-weight: 500; margin: 0 0 12px; }
</style></head><body>
<section><h2>数据源设置 Data source settings</h2><div id="config-editor"></div></section>
<section><h2>查询编辑器 Query editor</h2><div id="query-editor"></div></section>
<section><h2>变量编辑器 Variable editor</h2><div id="variable-editor"></div></section>
<section><h2>应用 App</h2><div id="app-root"></div></section>
<script>
  // No window.grafanaBootData: @grafana/runtime's config then takes its defaults (it logs that).
  window.__harnessConfig = ${JSON.stringify(config)};
</script>
<script src="/shell.js"></script>
<script src="/vendor/system.js"></script>
<script src="/vendor/amd.js"></script>
<script>window.__harnessStart();</script>
</body></html>`;

/** Serves the page, SystemJS, the shell and distDir as /public/plugins/<id>/ on 127.0.0.1. */
export async function startServer({ shell, distDir, config }) {
  const sysjs = path.join(pluginRoot, 'node_modules', 'systemjs', 'dist');
  const requests = [];
  const types = { '.js': 'text/javascript', '.json': 'application/json', '.svg': 'image/svg+xml', '.map': 'application/json' };
  const base = `/public/plugins/${config.plugin.id}/`;
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    let body = null;
    let file = null;
    // The page itself, also at the app's paths (/a/<app id>/...) and the plugin details page
    // (/plugins/<id>), as Grafana serves its index there.
    if (url === '/' || url === '/index.html' || url.startsWith('/a/') || url.startsWith('/plugins/')) {
      body = page(config);
      res.setHeader('content-type', 'text/html; charset=utf-8');
    } else if (url === '/shell.js') {
      body = shell;
      res.setHeader('content-type', 'text/javascript');
    } else if (url === '/vendor/system.js') {
      file = path.join(sysjs, 'system.js');
    } else if (url === '/vendor/amd.js') {
      file = path.join(sysjs, 'extras', 'amd.js');
    } else if (/^\/public\/(build\/)?img\//.test(url)) {
      // Grafana serves @grafana/ui's icons from its public/ folder (public/build/ from 12 on).
      const img = path.join(majors[config.major], 'node_modules', '@grafana', 'ui', 'dist', 'public', 'img');
      const p = path.resolve(img, url.replace(/^\/public\/(build\/)?img\//, ''));
      if (p.startsWith(img + path.sep) && fs.existsSync(p)) {
        file = p;
      }
    } else if (url.startsWith(base)) {
      const p = path.resolve(distDir, url.slice(base.length));
      if (p.startsWith(path.resolve(distDir) + path.sep) && fs.existsSync(p) && fs.statSync(p).isFile()) {
        file = p;
      }
    }
    if (file) {
      body = fs.readFileSync(file);
      res.setHeader('content-type', types[path.extname(file)] ?? 'application/octet-stream');
    }
    requests.push({ url, status: body === null ? 404 : 200 });
    res.statusCode = body === null ? 404 : 200;
    res.end(body ?? 'not found');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/`, requests, close: () => new Promise((r) => server.close(r)) };
}

/** Launches Debian's chromium with a fresh profile and no network beyond loopback. */
export async function launch() {
  if (!fs.existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} missing: install Debian's chromium (.ci/deps.sh)`);
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'minewatch-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Loads distDir's plugin in the shell of the given major; returns what the page reported, the
 * server's request log, and the open page (the caller checks controls, takes pictures, closes).
 */
export async function loadInGrafana({ browser, major, distDir, shell, path: at = '/', route, apiRoute }) {
  const plugin = describePlugin(distDir);
  const config = { major, names: sharedModules[major], plugin };
  const server = await startServer({ shell: shell ?? (await buildShell(major)), distDir, config });
  const p = await browser.context.newPage();
  const consoleLines = [];
  p.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  p.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  // Nothing leaves loopback: any other address is refused.
  await p.route(/^(?!http:\/\/127\.0\.0\.1:)/, (r) => r.abort());
  // The backend's resource API, answered by the caller (the real one is tested in plugin/pkg).
  if (route) {
    await p.route(/\/api\/datasources\/uid\/[^/]+\/resources\//, route);
  }
  // Grafana's own API the config page calls: the plugin's settings and the datasource's health.
  if (apiRoute) {
    await p.route(/\/api\/(plugins\/[^/]+\/settings|datasources\/uid\/[^/]+\/health)(\?|$)/, apiRoute);
  }
  await p.goto(new URL(at, server.url).href);
  try {
    await p.waitForFunction(() => window.__harnessResult !== undefined, null, { timeout: 120000 });
  } catch (e) {
    await p.close();
    await server.close();
    throw new Error(`the page never finished loading the plugin: ${e.message}\nconsole:\n${consoleLines.join('\n')}`);
  }
  const result = await p.evaluate(() => window.__harnessResult);
  return {
    result,
    page: p,
    requests: server.requests,
    console: consoleLines,
    close: async () => {
      await p.close();
      await server.close();
    },
  };
}
