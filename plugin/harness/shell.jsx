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
//   {status, data} (the test answers them);
// - an app plugin's configuration page is rendered as Grafana's plugin details page renders it
//   (/plugins/<id>?page=<config page id>): the meta read from GET /api/plugins/<id>/settings, the
//   plugin initialised with it (importAppPlugin: init(meta), meta = meta), the page's body given
//   {plugin, query} inside PluginContextProvider;
// - Grafana's DatasourceSrv.getList filters (pluginId, type, filter, and only datasources with
//   metrics, logs, annotations, tracing or alerting unless `all`), sorted by name, and
//   getInstanceSettings by uid or name, over the bundled datasource, a second instance of it and a
//   Prometheus one.
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

// Grafana's meta carries each logo as a path under the plugin's public folder (the datasource is
// nested in the app: its folder is where its module.js is served).
const dsBase = plugin.datasource.module.replace(/\/module\.js$/, '');
const servedLogo = (l) => (l && !l.startsWith('/') && !l.startsWith('public/') ? `${dsBase}/${l}` : l);
const served = (p) => ({ ...p, info: { ...p.info, logos: { small: servedLogo(p.info?.logos?.small), large: servedLogo(p.info?.logos?.large) } } });

function settings(p, over = {}) {
  return {
    id: 1,
    uid: 'minewatch-harness',
    type: p.id,
    name: 'minewatch 挖矿监测',
    ...over,
    url: 'http://127.0.0.1:8428',
    access: 'proxy',
    jsonData: { timezone: 'Asia/Shanghai', quietPeriod: '7d', locateDeadline: '48h', reportDeadline: '72h' },
    readOnly: false,
    meta: served(p),
  };
}

// The other datasources of the harness's Grafana: a second minewatch instance (a district's) and
// a Prometheus one, which a picker filtered to minewatch must not offer.
const promMeta = { id: 'prometheus', type: 'datasource', name: 'Prometheus', metrics: true, info: { logos: { small: '', large: '' } } };
const otherDatasources = (p) => [
  settings(p, { id: 2, uid: 'minewatch-district', name: 'minewatch 挖矿监测 (区县)' }),
  { id: 3, uid: 'prometheus-harness', type: 'prometheus', name: 'Prometheus', url: 'http://127.0.0.1:9090', access: 'proxy', jsonData: {}, readOnly: false, meta: promMeta },
];

// DatasourceSrv.getList's filters as Grafana applies them (public/app/features/plugins/datasource_srv.ts).
function listDatasources(all, f = {}) {
  const kinds = ['metrics', 'logs', 'annotations', 'tracing', 'alerting'];
  return all
    .filter((x) => {
      for (const k of ['metrics', 'tracing', 'annotations', 'alerting', 'logs']) {
        if (f[k] && !x.meta[k]) {
          return false;
        }
      }
      if (f.pluginId && x.meta.id !== f.pluginId) {
        return false;
      }
      if (f.filter && !f.filter(x)) {
        return false;
      }
      if (f.type && (Array.isArray(f.type) ? !f.type.includes(x.type) : f.type !== x.type)) {
        return false;
      }
      return f.all || kinds.some((k) => x.meta[k] === true);
    })
    .sort((a, b) => (a.name.toLowerCase() > b.name.toLowerCase() ? 1 : a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 0));
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
  // get() as Grafana's: the data of fetch(), a failure thrown.
  get(url, params) {
    return new Promise((resolve, reject) => this.fetch({ url, params, method: 'GET' }).subscribe({ next: (r) => resolve(r.data), error: reject }));
  },
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
  // Administration → Plugins → <app>: Grafana's plugin details page, whose tabs are ?page=<id>.
  const configPage = plugin.app && window.location.pathname === `/plugins/${plugin.app.meta.id}`;
  if (appPage || configPage) {
    grafanaRuntime.setBackendSrv(backendSrv);
  }
  const dsSettings = settings(plugin.datasource.meta);
  const allDatasources = [dsSettings, ...otherDatasources(plugin.datasource.meta)];
  grafanaRuntime.setDataSourceSrv({
    getList: (f) => listDatasources(allDatasources, f),
    // No ref: the default datasource (the bundled one here); else by uid, then by name.
    getInstanceSettings: (ref) => {
      if (!ref) {
        return dsSettings;
      }
      const key = typeof ref === 'string' ? ref : ref.uid;
      return allDatasources.find((d) => d.uid === key) ?? allDatasources.find((d) => d.name === key);
    },
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
  if (app && configPage) {
    await mountConfigPage(app, result);
  }
  result.notProvided = resolved.filter((n) => names.includes(n) && !(n in real));
  return result;
}

// The plugin details page of an app as Grafana builds it: loadPlugin(id) reads the settings
// (GET /api/plugins/<id>/settings, the test answers), importAppPlugin initialises the module's
// plugin with that meta, the tabs are its configPages, and the one ?page= names (else the first)
// is rendered with {plugin, query} inside PluginContextProvider (PluginDetailsBody).
async function mountConfigPage(app, result) {
  const id = plugin.app.meta.id;
  const meta = await backendSrv.get(`/api/plugins/${id}/settings`);
  app.init(meta);
  app.meta = meta;
  const pages = app.configPages ?? [];
  result.checks.configPages = pages.map((p) => ({ id: p.id, title: p.title, icon: p.icon }));
  const query = Object.fromEntries(new URLSearchParams(window.location.search));
  const page = pages.find((p) => p.id === query.page) ?? pages[0];
  if (!page) {
    throw new Error(`${id}: no config pages (AppPlugin.addConfigPage)`);
  }
  const Body = page.body;
  mount(
    'app-root',
    <div>
      <h1 style={{ fontSize: 22, margin: '0 0 8px' }}>{meta.name}</h1>
      <grafanaUI.TabsBar>
        {pages.map((p) => (
          <grafanaUI.Tab key={p.id} label={p.title} icon={p.icon} active={p === page} href={`/plugins/${id}?page=${p.id}`} />
        ))}
      </grafanaUI.TabsBar>
      <div style={{ paddingTop: 16 }}>
        <grafanaData.PluginContextProvider meta={meta}>
          <Body plugin={app} query={query} />
        </grafanaData.PluginContextProvider>
      </div>
    </div>
  );
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
