import { readFile } from 'node:fs/promises';
import { dashboardCss, dashboardHtml, dashboardIcon } from './page.js';

/** One file the admin server serves for the dashboard. */
export interface DashboardAsset {
  contentType: string;
  body: Buffer;
}

/** The browser modules, compiled by tsc next to this file (dist/src/dashboard/). */
const SCRIPTS = ['app.js', 'format.js'];

/**
 * The dashboard's files by URL path ('/', '/app.js', ...), read once at start. The scripts are the compiled
 * app.ts and format.ts; their source-map comments are left out, since the maps are not served.
 */
export async function loadDashboardAssets(): Promise<Map<string, DashboardAsset>> {
  const assets = new Map<string, DashboardAsset>();
  assets.set('/', { contentType: 'text/html; charset=utf-8', body: Buffer.from(dashboardHtml) });
  assets.set('/dashboard.css', { contentType: 'text/css; charset=utf-8', body: Buffer.from(dashboardCss) });
  assets.set('/favicon.svg', { contentType: 'image/svg+xml', body: Buffer.from(dashboardIcon) });
  for (const name of SCRIPTS) {
    const source = await readFile(new URL(`./${name}`, import.meta.url), 'utf8');
    const body = source.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
    assets.set(`/${name}`, { contentType: 'text/javascript; charset=utf-8', body: Buffer.from(body) });
  }
  return assets;
}
