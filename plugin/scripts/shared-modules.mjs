// The module names Grafana's frontend hands to plugins, per Grafana major this plugin supports.
//
// Grafana's plugin loader (SystemJS) maps exactly these names to its own instances
// (`sharedDependenciesMap` in public/app/features/plugins/loader/sharedDependencies.ts of
// grafana/grafana, turned into an import map by buildImportMap). Any other name a plugin's AMD
// define() asks for is resolved as a URL and fetched: a 404, and the plugin fails to load.
// So dist/module.js may declare only names from these lists; everything else is bundled.
//
// Provenance (read through the code index, Dec 2026; the names are facts, no code is copied):
// - GRAFANA_11: the revision of sharedDependencies.ts that imports every shared module statically
//   and shares `i18next` itself (no @grafana/i18n, which first appears on npm at 12.1.0).
// - GRAFANA_12: the revision that loads most shared modules lazily, shares the @grafana/*/unstable
//   entry points and takes i18next from @grafana/i18n (so 12.1 or later). The newest revision on
//   grafana/grafana main (commit 0274a43c) adds react/jsx-runtime, react/jsx-dev-runtime,
//   react-dom/client and react-dom/server; they are left out here so the 12 list stays the
//   smaller, older one.
// The jQuery flot names are placeholders Grafana registers so old plugins resolve them.
const common = [
  '@emotion/css',
  '@emotion/react',
  '@grafana/data',
  '@grafana/runtime',
  '@grafana/slate-react',
  '@grafana/ui',
  '@kusto/monaco-kusto',
  'app/core/app_events',
  'app/core/config',
  'app/core/core',
  'app/core/services/backend_srv',
  'app/core/table_model',
  'app/core/time_series',
  'app/core/time_series2',
  'app/core/utils/datemath',
  'app/core/utils/flatten',
  'app/core/utils/kbn',
  'app/core/utils/ticks',
  'app/features/dashboard/impression_store',
  'd3',
  'emotion',
  'i18next',
  'jquery',
  'jquery.flot.crosshair',
  'jquery.flot.events',
  'jquery.flot.fillbelow',
  'jquery.flot.gauge',
  'jquery.flot.pie',
  'jquery.flot.selection',
  'jquery.flot.stack',
  'jquery.flot.stackpercent',
  'jquery.flot.time',
  'jquery.flot',
  'lodash',
  'moment',
  'prismjs',
  'react',
  'react-dom',
  'react-inlinesvg',
  'react-redux',
  'react-router-dom',
  'react-router',
  'redux',
  'rxjs',
  'rxjs/operators',
  'slate',
  'slate-plain-serializer',
  'slate-react',
];

export const sharedModules = {
  11: [...common],
  12: [...common, '@grafana/data/unstable', '@grafana/runtime/unstable', '@grafana/ui/unstable'],
};

// The @grafana/* package versions the harness loads for each major: 11 is what the plugin builds
// against (package.json, the bottom of grafanaDependency), 12 the newest major it claims.
export const supportedMajors = Object.keys(sharedModules).map(Number);

// Names every supported major shares: the only ones the plugin may leave external.
export const sharedByAll = sharedModules[supportedMajors[0]].filter((n) =>
  supportedMajors.every((m) => sharedModules[m].includes(n))
);
