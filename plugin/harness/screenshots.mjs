// Pictures of the dashboards as staff see them: each dashboard drawn by dashboard-shell.jsx (the
// real @grafana/ui components of the major the harness plays, MINEWATCH_GRAFANA_MAJOR: Grafana 11 as
// the plugin builds against for docs/screenshots, 12 on demand, MINEWATCH_SCREENSHOTS_12) in Debian's chromium at
// 1920×1080 with the system's Noto CJK fonts, from the frames the harness got from the backend.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { major } from './grafana-frontend.mjs';
import { buildShell, launch, majors, pluginRoot } from './harness.mjs';

// Grafana's app loads uPlot's stylesheet (the plot's layers are positioned by it).
const uplotCSS = fs.readFileSync(path.join(majors[major], 'node_modules', 'uplot', 'dist', 'uPlot.min.css'), 'utf8');

const page = (data) => `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>${data.dashboard.title}</title>
<style>${uplotCSS}</style>
<style>html, body { margin: 0; background: #111217; font-family: Inter, "Noto Sans CJK SC", "Noto Sans", sans-serif; }</style>
</head><body><div id="root"></div>
<script>window.__dashboardData = ${JSON.stringify(data).replace(/</g, '\\u003c')};</script>
<script src="/dashboard.js"></script></body></html>`;

/** Renders every dashboard of `shown` ({dashboard, range, vars, panels, kiosk}) into dir/<uid>.png. */
export async function screenshots(dir, shown) {
  const bundle = await buildShell(major, path.join(pluginRoot, 'harness', 'dashboard-shell.jsx'));
  const img = path.join(majors[major], 'node_modules', '@grafana', 'ui', 'dist', 'public', 'img');
  let current = null;
  const missing = new Set();
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (url === '/') {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      return res.end(page(current));
    }
    if (url === '/dashboard.js') {
      res.setHeader('content-type', 'text/javascript');
      return res.end(bundle);
    }
    const p = path.resolve(img, url.replace(/^\/public\/(build\/)?img\//, ''));
    if (/^\/public\/(build\/)?img\//.test(url) && p.startsWith(img + path.sep) && fs.existsSync(p)) {
      res.setHeader('content-type', p.endsWith('.svg') ? 'image/svg+xml' : 'application/octet-stream');
      return res.end(fs.readFileSync(p));
    }
    missing.add(url);
    res.statusCode = 404;
    res.end('not found');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}/`;
  const browser = await launch();
  const written = [];
  try {
    fs.mkdirSync(dir, { recursive: true });
    for (const data of shown) {
      current = data;
      const p = await browser.context.newPage();
      const problems = [];
      const crashes = [];
      p.on('pageerror', (e) => crashes.push(e.message));
      p.on('console', (m) => m.type() === 'error' && problems.push(m.text().slice(0, 300)));
      await p.route(/^(?!http:\/\/127\.0\.0\.1:)/, (route) => route.abort());
      await p.setViewportSize({ width: 1920, height: 1080 });
      await p.goto(base);
      await p.waitForFunction(() => window.__rendered || window.__renderError, null, { timeout: 120000 });
      const err = await p.evaluate(() => window.__renderError);
      // A component that throws leaves React's root empty: no picture then, but the error.
      if (err || crashes.length) {
        throw new Error(`${data.dashboard.uid}: ${err ?? ''}\n${crashes.join('\n')}`);
      }
      const file = path.join(dir, `${data.name}.png`);
      await p.screenshot({ path: file, clip: { x: 0, y: 0, width: 1920, height: 1080 } });
      written.push(file);
      if (problems.length) {
        console.log(`  ${data.dashboard.uid}: console errors: ${problems.join('; ')}`);
      }
      await p.close();
    }
    // Grafana's web fonts live in its public/ folder, in no npm package: the system's Noto fonts
    // stand in. Anything else missing is said.
    const other = [...missing].filter((u) => !u.startsWith('/public/fonts/'));
    if (other.length) {
      console.log(`  not served (404): ${other.join(', ')}`);
    }
  } finally {
    await browser.close();
    await new Promise((r) => server.close(r));
  }
  return written;
}
