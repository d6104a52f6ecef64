// plugin.json as Grafana's frontend types a plugin's metadata (@grafana/data's PluginMeta,
// AppPluginMeta, DataSourcePluginMeta), for scripts/check-plugin-meta.mjs.
//
// This is NOT Grafana's plugin.schema.json (that file is not published in any npm package; see
// check-schema.mjs). The served metadata differs from the file in a few ways, handled here:
// - what Grafana's server adds when it serves the metadata (module, baseUrl, enabled, signature…)
//   is left out, so plugin.json may not set it;
// - the file's enums are strings ("app"), the types' are TypeScript enums: their string values;
// - the few keys the file has and the served metadata does not type are added: $schema,
//   executable, info.keywords, includes[].defaultNav, dependencies.grafanaDependency required
//   (grafanaVersion is its deprecated forerunner), info.build left to the build.
// Every other key must be one the types name, with the type they give it.
import type {
  AppPluginMeta,
  DataSourcePluginMeta,
  PluginDependencies,
  PluginInclude,
  PluginIncludeType,
  PluginMeta,
  PluginMetaInfo,
  PluginState,
  PluginType,
} from '@grafana/data';

type Served =
  | 'module'
  | 'baseUrl'
  | 'jsonData'
  | 'secureJsonData'
  | 'secureJsonFields'
  | 'enabled'
  | 'autoEnabled'
  | 'defaultNavUrl'
  | 'hasUpdate'
  | 'enterprise'
  | 'latestVersion'
  | 'pinned'
  | 'signature'
  | 'signatureType'
  | 'signatureOrg'
  | 'live'
  | 'angular'
  | 'angularDetected'
  | 'loadingStrategy'
  | 'moduleHash';

type Include = Omit<PluginInclude, 'type'> & { type: `${PluginIncludeType}`; defaultNav?: boolean };

type Info = Omit<PluginMetaInfo, 'build'> & { keywords?: string[] };

type Dependencies = {
  grafanaDependency: string;
  grafanaVersion?: string;
  plugins: Array<Omit<PluginDependencies['plugins'][number], 'type'> & { type: `${PluginType}` }>;
  extensions?: { exposedComponents: string[] };
};

type FileOf<M extends PluginMeta, T extends `${PluginType}`> = Omit<M, Served | 'type' | 'state' | 'info' | 'includes' | 'dependencies'> & {
  $schema?: string;
  type: T;
  state?: `${PluginState}`;
  info: Info;
  includes?: Include[];
  dependencies: Dependencies;
};

export type AppPluginFile = FileOf<AppPluginMeta, 'app'>;
export type DataSourcePluginFile = FileOf<DataSourcePluginMeta, 'datasource'> & { executable?: string };
