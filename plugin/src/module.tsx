// The minewatch app: the case pages for unit leads and the bureau. It bundles the datasource
// (datasource/, its own plugin.json, module.js and Go backend) that answers them.
import { AppPlugin } from '@grafana/data';
import { App, AppSettings } from './app/App';

export const plugin = new AppPlugin<AppSettings>().setRootPage(App);
