// What every page of the app shares: the case API of the bundled datasource, the signed-in
// user as the backend sees them (me), the clock for countdowns, and navigation inside the app.
import React, { createContext, useContext, useEffect, useState } from 'react';
import { locationUtil } from '@grafana/data';
import { locationService } from '@grafana/runtime';
import { CaseApi, Me } from './api';

/** The app's pages live under /a/<app id>/ (plugin.json includes). */
export const APP_ID = 'minewatch-campaign-app';
export const BASE = `/a/${APP_ID}`;

export interface AppCtx {
  api: CaseApi;
  me?: Me;
}

export const Ctx = createContext<AppCtx | undefined>(undefined);

export function useApp(): AppCtx {
  const c = useContext(Ctx);
  if (!c) {
    throw new Error('minewatch app page outside its root');
  }
  return c;
}

/** Goes to a page of the app, through Grafana's location service (no reload). */
export function go(path: string) {
  locationService.push(`${BASE}${path}`);
}

/** A link to a page of the app: a real href (new tab works), followed in place on a plain click. */
export function AppLink({ to, children, ...rest }: { to: string; children: React.ReactNode; 'aria-label'?: string }) {
  return (
    <a
      {...rest}
      href={locationUtil.assureBaseUrl(`${BASE}${to}`)}
      onClick={(e) => {
        if (e.button === 0 && !e.metaKey && !e.ctrlKey && !e.shiftKey) {
          e.preventDefault();
          go(to);
        }
      }}
    >
      {children}
    </a>
  );
}

/** The current path, following Grafana's history (history v4 hands the location, v5 {location}). */
export function usePath(): string {
  const [path, setPath] = useState(() => locationService.getLocation().pathname);
  useEffect(() => {
    const unlisten = locationService.getHistory().listen((l: unknown) => {
      const loc = (l as { location?: { pathname: string } }).location ?? (l as { pathname: string });
      setPath(loc.pathname);
    });
    return () => unlisten();
  }, []);
  return path;
}

/** Now, ticking every `every` ms, so countdowns move while the page is open. */
export function useNow(every = 30000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), every);
    return () => clearInterval(t);
  }, [every]);
  return now;
}
