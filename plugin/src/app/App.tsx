// The app's root page (AppRootProps): finds the bundled datasource, asks the backend who the
// user is, and shows the page the path names:
//   /a/minewatch-campaign-app/cases              我的待办 My cases (default)
//   /a/minewatch-campaign-app/cases/<id>         案件 the case, with the disposition form
//   /a/minewatch-campaign-app/cases/<id>/report  书面报告 the 72 h written report
//   /a/minewatch-campaign-app/pack               周会材料 the meeting pack
// Routing follows Grafana's location service rather than react-router: Grafana 11 shares
// react-router-dom 5 and Grafana 12 shares 6, and the app claims both.
import React, { useEffect, useMemo, useState } from 'react';
import { AppRootProps } from '@grafana/data';
import { PluginPage } from '@grafana/runtime';
import { Alert, LoadingPlaceholder, Tab, TabsBar } from '@grafana/ui';
import { ApiError, CaseApi, datasourceUid, Me } from './api';
import { BASE, Ctx, go, usePath } from './context';
import { CasePage } from './CasePage';
import { MyCases } from './MyCases';
import { PackPage } from './PackPage';
import { ReportPage } from './ReportPage';
import { T } from './labels';

export interface AppSettings {
  /** The minewatch datasource's uid, when it is not the provisioned `minewatch` one. */
  datasourceUid?: string;
}

type Route = { page: 'cases' } | { page: 'case'; id: string } | { page: 'report'; id: string } | { page: 'pack' };

export function route(pathname: string): Route {
  const rel = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  let m = /^\/cases\/([^/]+)\/report\/?$/.exec(rel);
  if (m) {
    return { page: 'report', id: decodeURIComponent(m[1]) };
  }
  m = /^\/cases\/([^/]+)\/?$/.exec(rel);
  if (m) {
    return { page: 'case', id: decodeURIComponent(m[1]) };
  }
  if (/^\/pack\/?$/.test(rel)) {
    return { page: 'pack' };
  }
  return { page: 'cases' };
}

export function App(props: AppRootProps<AppSettings>) {
  const path = usePath();
  const [me, setMe] = useState<Me>();
  const [error, setError] = useState<string>();
  const api = useMemo(() => {
    try {
      return new CaseApi(datasourceUid(props.meta?.jsonData));
    } catch (e) {
      return e as ApiError;
    }
  }, [props.meta?.jsonData]);

  useEffect(() => {
    if (api instanceof CaseApi) {
      api.me().then(setMe, (e: ApiError) => setError(e.message));
    }
  }, [api]);

  if (!(api instanceof CaseApi)) {
    return (
      <PluginPage>
        <Alert severity="error" title={api.message} />
      </PluginPage>
    );
  }
  const r = route(path);
  let page: React.ReactNode;
  if (error) {
    page = <Alert severity="error" title={error} />;
  } else if (!me) {
    page = <LoadingPlaceholder text={T.loading} />;
  } else if (r.page === 'case') {
    page = <CasePage id={r.id} />;
  } else if (r.page === 'report') {
    page = <ReportPage id={r.id} />;
  } else if (r.page === 'pack') {
    page = <PackPage />;
  } else {
    page = <MyCases />;
  }
  return (
    <Ctx.Provider value={{ api, me }}>
      <PluginPage>
        <div data-testid="minewatch-app" data-page={r.page}>
          <TabsBar>
            <Tab label={T.myCases} active={r.page !== 'pack'} onChangeTab={() => go('/cases')} />
            <Tab label={T.pack} active={r.page === 'pack'} onChangeTab={() => go('/pack')} />
          </TabsBar>
          <div style={{ paddingTop: 16 }}>{page}</div>
        </div>
      </PluginPage>
    </Ctx.Provider>
  );
}
