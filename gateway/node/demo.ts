/**
 * The demo shop at /demo, for development gateways only (main.ts mounts it unless
 * NODE_ENV=production): clients/browser/demo/ with the browser SDK, bundled by esbuild when the
 * gateway starts, so the page always runs the SDK's current source. Node only (esbuild).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import type { GatewayEnv } from '../app.ts';
import { bundle } from '../../clients/browser/build.ts';
import { fromRoot } from '../../lib/paths.ts';

const DEMO = fromRoot('clients/browser/demo/');

export async function mountDemo(app: Hono<GatewayEnv>): Promise<void> {
  const esbuild = await import('esbuild');
  const [sdk, shop] = await Promise.all([
    bundle(),
    esbuild.build({ entryPoints: [fileURLToPath(new URL('shop.ts', DEMO))], bundle: true, format: 'esm', minify: true, target: 'es2020', write: false }),
  ]);
  const html = readFileSync(new URL('index.html', DEMO), 'utf8');
  const js = (code: string) => new Response(code, { headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' } });
  app.get('/demo', (c) => c.html(html, 200, { 'cache-control': 'no-cache' }));
  app.get('/demo/shop.js', () => js(shop.outputFiles[0]!.text));
  app.get('/demo/ferry.js', () => js(sdk.code));
}
