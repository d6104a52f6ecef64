// The browser side of the harness: a stand-in for Grafana's frontend boot, built by esbuild once
// per Grafana major from that major's real @grafana/* packages (see run.mjs).
//
// What it reproduces of Grafana (its own implementation, after Grafana's loader behaviour):
// - every name of Grafana's shared-dependency list for the major is registered with SystemJS as
//   "package:<name>" and mapped to it by an import map; nothing else is;
// - a name outside the map is handed back unresolved, so SystemJS fetches it as a URL relative to
//   the page and fails with a 404 (what Grafana's resolve hook does);
// - the plugin's module.js is loaded with System.import, as an AMD define() through SystemJS's amd
//   extra;
// - the runtime services a plugin reaches through @grafana/runtime (template, datasource and
//   backend services) are set before the plugin is instantiated, and editors render inside
//   Grafana's theme context;
// - an app plugin's root page is rendered as Grafana's AppRootPage renders it (meta, basename,
//   path, query, onNavChanged) at the path the page was opened with, its backend calls going
//   through a backendSrv that, like Grafana's, turns fetch() answers into data or a thrown
//   {status, data} (the test answers them).
import * as emotionCss from '@emotion/css';
import * as emotionReact from '@emotion/react';
import * as grafanaData from '@grafana/data';
import * as grafanaRuntime from '@grafana/runtime';
import * as grafanaUI from '@grafana/ui';
import * as lodash from 'lodash';
import moment from 'moment';
import React from 'react';
import * as ReactDOM from 'react-dom';
import { createRoot } from 'react-dom/client';
import * as reactInlineSvg from 'react-inlinesvg';
import * as rxjs from 'rxjs';
import * as rxjsOperators from 'rxjs/operators';
import { from } from 'rxjs';
import * as i18next from 'i18next';
// The @grafana/*/unstable entry points where the major shares them (run.mjs writes this module).
import { unstableModules } from 'harness-major';

const { names, major, plugin } = window.__harnessConfig;

// The real modules the harness can give; the other names of the list (app/core/*, jquery, slate,
// d3, ...) are registered as markers so the name set is exactly Grafana's, and a plugin that
// reaches for one is reported rather than silently handed an empty object.
const real = {
  '@emotion/css': emotionCss,
  '@emotion/react': emotionReact,
  '@grafana/data': grafanaData,
  '@grafana/runtime': grafanaRuntime,
  '@grafana/ui': grafanaUI,
  'app/core/utils/datemath': grafanaData.dateMath,
  emotion: emotionCss,
  i18next,
  lodash: { default: lodash, __useDefault: true },
  moment: { default: moment, __useDefault: true },
  react: React,
  'react-dom': ReactDOM,
  'react-inlinesvg': reactInlineSvg,
  rxjs,
  'rxjs/operators': rxjsOperators,
  ...unstableModules,
};

const errors = [];
const report = (phase, e) => errors.push(`${phase}: ${e && e.stack ? e.stack : String(e)}`);
window.addEventListener('error', (e) => report('window.onerror', e.error || e.message));
window.addEventListener('unhandledrejection', (e) => report('unhandledrejection', e.reason));

function settings(p) {
  return {
    id: 1,
    uid: 'minewatch-harness',
    type: p.id,
    name: 'minewatch 挖矿监测',
    url: 'http://127.0.0.1:8428',
    access: 'proxy',
    jsonData: { timezone: 'Asia/Shanghai', quietPeriod: '7d', locateDeadline: '48h', reportDeadline: '72h' },
    readOnly: false,
    meta: p,
  };
}

// A template service like Grafana's for the variables a dashboard of this project defines.
const variables = { unit: ['u-001', 'u-002'], week: '2026-W47' };
const templateSrv = {
  getVariables: () => Object.keys(variables).map((name) => ({ name, type: 'custom' })),
  containsTemplate: (t) => typeof t === 'string' && /\$\w+/.test(t),
  updateTimeRange: () => {},
  replace: (target, scopedVars, format) =>
    String(target ?? '').replace(/\$(\w+)|\$\{(\w+)\}/g, (m, a, b) => {
      const v = scopedVars?.[a || b]?.value ?? variables[a || b];
      if (v === undefined) {
        return m;
      }
      return typeof format === 'function' ? format(v) : Array.isArray(v) ? `{${v.join(',')}}` : String(v);
    }),
};

// What the harness knows of Grafana's BackendSrv.fetch: params as a query string, objects sent as
// JSON, the answer read as JSON or a Blob (responseType), and a non-2xx answer thrown as
// {status, statusText, data} (FetchError), its body parsed as JSON where it is.
const backendSrv = {
  fetch(options) {
    return from(
      (async () => {
        const qs = new URLSearchParams(options.params ?? {}).toString();
        const url = options.url + (qs ? `?${qs}` : '');
        const headers = { ...(options.headers ?? {}) };
        let body;
        if (options.data !== undefined) {
          body = typeof options.data === 'string' ? options.data : JSON.stringify(options.data);
          headers['Content-Type'] ??= 'application/json';
        }
        const res = await fetch(url, { method: options.method ?? 'GET', headers, body, credentials: 'same-origin' });
        let data;
        if (res.ok && options.responseType === 'blob') {
          data = await res.blob();
        } else {
          const text = await res.text();
          try {
            data = text ? JSON.parse(text) : undefined;
          } catch {
            data = text;
          }
        }
        const out = { status: res.status, statusText: res.statusText, ok: res.ok, headers: res.headers, url: res.url, data, config: options };
        if (!res.ok) {
          throw out;
        }
        return out;
      })()
    );
  },
};

async function loadPlugin(path) {
  const mod = await System.import(path);
  if (!mod || !mod.plugin) {
    throw new Error(`${path} exports no "plugin"`);
  }
  return mod.plugin;
}

const theme = grafanaData.createTheme({ colors: { mode: 'dark' } });

function mount(id, element) {
  const el = document.getElementById(id);
  createRoot(el).render(
    <grafanaUI.ThemeContext.Provider value={theme}>
      <grafanaUI.GlobalStyles />
      {element}
    </grafanaUI.ThemeContext.Provider>
  );
}

async function main() {
  grafanaRuntime.setTemplateSrv(templateSrv);
  // The backend is reachable on the app's pages (the test answers it); on the editors' page
  // there is none, and the editors fall back to what they hold.
  const appPage = plugin.app && window.location.pathname.startsWith(`/a/${plugin.app.meta.id}`);
  if (appPage) {
    grafanaRuntime.setBackendSrv(backendSrv);
  }
  const dsSettings = settings(plugin.datasource.meta);
  grafanaRuntime.setDataSourceSrv({
    getList: (f) => [dsSettings].filter((d) => !f?.type || d.type === f.type),
    getInstanceSettings: (ref) => (!ref || ref === dsSettings.uid || ref?.uid === dsSettings.uid ? dsSettings : undefined),
    get: () => Promise.reject(new Error('harness: no datasource instances')),
    reload: () => {},
  });
  const result = { major, grafanaData: grafanaData.PanelPlugin ? 'ok' : 'missing', checks: {}, errorText: theme.colors.error.text };
  let app;
  if (plugin.app) {
    app = await loadPlugin(plugin.app.module);
    result.checks.appPlugin = app instanceof grafanaData.AppPlugin;
    result.checks.appRoot = typeof app.root;
  }
  const dsPlugin = await loadPlugin(plugin.datasource.module);
  result.checks.datasourcePlugin = dsPlugin instanceof grafanaData.DataSourcePlugin;
  const ds = new dsPlugin.DataSourceClass(settings(plugin.datasource.meta));
  result.checks.datasourceWithBackend = ds instanceof grafanaRuntime.DataSourceWithBackend;
  result.defaultQuery = ds.getDefaultQuery ? ds.getDefaultQuery() : null;
  result.annotationDefault = ds.annotations?.getDefaultQuery ? ds.annotations.getDefaultQuery() : null;
  result.interpolated = ds.applyTemplateVariables(
    { refId: 'A', queryType: 'tracker', units: ['$unit'], week: '$week' },
    {}
  );
  const c = dsPlugin.components;
  result.checks.components = {
    ConfigEditor: typeof c.ConfigEditor,
    QueryEditor: typeof c.QueryEditor,
    VariableQueryEditor: typeof c.VariableQueryEditor,
  };

  const changes = [];
  window.__harnessChanges = changes;
  const Config = () => {
    const [options, setOptions] = React.useState({
      ...settings(plugin.datasource.meta),
      secureJsonFields: { bearerToken: true },
      secureJsonData: {},
    });
    return (
      <c.ConfigEditor
        options={options}
        onOptionsChange={(o) => {
          changes.push({ editor: 'config', url: o.url, jsonData: o.jsonData });
          setOptions(o);
        }}
      />
    );
  };
  const Query = () => {
    const [query, setQuery] = React.useState({ refId: 'A', ...result.defaultQuery });
    return (
      <c.QueryEditor
        datasource={ds}
        query={query}
        queries={[query]}
        app="panel-editor"
        range={grafanaData.getDefaultTimeRange()}
        onChange={(q) => {
          changes.push({ editor: 'query', query: q });
          setQuery(q);
        }}
        onRunQuery={() => changes.push({ editor: 'query', run: true })}
      />
    );
  };
  const Variable = () => {
    const [query, setQuery] = React.useState({ variableKind: 'units' });
    return (
      <c.VariableQueryEditor
        datasource={ds}
        query={query}
        templateSrv={templateSrv}
        onChange={(q, definition) => {
          changes.push({ editor: 'variable', query: q, definition });
          setQuery(q);
        }}
      />
    );
  };
  mount('config-editor', <Config />);
  mount('query-editor', <Query />);
  mount('variable-editor', <Variable />);
  // The app's root page where the page was opened at one of its paths, as Grafana routes /a/<id>/.
  if (app?.root && appPage) {
    const Root = app.root;
    const AppRootPage = () => {
      const [loc, setLoc] = React.useState(grafanaRuntime.locationService.getLocation());
      React.useEffect(() => grafanaRuntime.locationService.getHistory().listen((l) => setLoc(l.location ?? l)), []);
      return (
        <Root
          meta={{ ...plugin.app.meta, enabled: true, jsonData: {} }}
          basename={`/a/${plugin.app.meta.id}`}
          path={loc.pathname}
          query={Object.fromEntries(new URLSearchParams(loc.search))}
          onNavChanged={() => {}}
        />
      );
    };
    mount('app-root', <AppRootPage />);
  }
  result.notProvided = resolved.filter((n) => names.includes(n) && !(n in real));
  return result;
}

// Registration waits for SystemJS, which the page loads after this bundle: loaded before, its AMD
// define() would be picked up by the UMD wrappers of bundled libraries (lodash) inside the shell.
const marker = '__harnessNotProvided';
const resolved = [];
function registerShared() {
  const marker = '__harnessNotProvided';
  const imports = {};
  for (const name of names) {
    const id = `package:${name}`;
    System.set(id, real[name] ?? { [marker]: name });
    imports[name] = id;
  }
  System.addImportMap({ imports });
  const proto = System.constructor.prototype;
  const resolve = proto.resolve;
  proto.resolve = function (id, parentUrl) {
    try {
      const url = resolve.call(this, id, parentUrl);
      resolved.push(id);
      return url;
    } catch (e) {
      // Grafana logs and returns the id as is: SystemJS then loads it as a URL and gets a 404.
      console.log(`SystemJS: failed to resolve '${id}'`);
      return id;
    }
  };
}

window.__harnessStart = () => {
  registerShared();
  main()
    .then((r) => {
      window.__harnessResult = { ...r, errors, resolved };
    })
    .catch((e) => {
      report('load', e);
      window.__harnessResult = { errors, resolved, failed: true };
    });
};
