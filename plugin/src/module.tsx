// The minewatch app: the case pages for unit leads and the bureau, and its configuration page
// (Administration → Plugins → minewatch → 配置 Configuration). It bundles the datasource
// (datasource/, its own plugin.json, module.js and Go backend) that answers them.
import { AppPlugin } from '@grafana/data';
import { App, AppSettings } from './app/App';
import { AppConfig } from './app/AppConfig';
import { C } from './app/labels';

export const plugin = new AppPlugin<AppSettings>().setRootPage(App).addConfigPage({
  title: C.pageTitle,
  icon: 'cog',
  body: AppConfig,
  id: 'configuration',
});
