/**
 * HTTP Basic for the dashboard with two roles: the admin (DASHBOARD_USER / DASHBOARD_PASSWORD)
 * may replay and discard; the viewer (`viewer` / DASHBOARD_READONLY_PASSWORD) may only look, so
 * any change it asks for is refused with 403. Without credentials (loopback only) everyone is
 * the admin, named `loopback` in the audit log.
 */
import type { MiddlewareHandler } from 'hono';
import { timingSafeEqual } from 'node:crypto';

export type Role = 'admin' | 'viewer';

export interface DashboardUser {
  name: string;
  role: Role;
}

export interface Credential {
  username: string;
  password: string;
}

/** The viewer's fixed user name. */
export const VIEWER_USER = 'viewer';
export const LOOPBACK_USER: DashboardUser = { name: 'loopback', role: 'admin' };

declare module 'hono' {
  interface ContextVariableMap {
    user: DashboardUser;
  }
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // Compared in constant time for equal lengths; the length itself is not a secret worth hiding here.
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Who an Authorization header names, or undefined when it names no one we know. */
export function userOf(header: string | undefined, admin: Credential, viewerPassword?: string): DashboardUser | undefined {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header?.trim() ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const [user, pass] = [text.slice(0, colon), text.slice(colon + 1)];
  if (same(user, admin.username) && same(pass, admin.password)) return { name: admin.username, role: 'admin' };
  if (viewerPassword && same(user, VIEWER_USER) && same(pass, viewerPassword)) return { name: VIEWER_USER, role: 'viewer' };
  return undefined;
}

export function dashboardAuth(admin: Credential | undefined, viewerPassword?: string): MiddlewareHandler {
  return async function dashboardAuth(c, next) {
    if (!admin) {
      c.set('user', LOOPBACK_USER);
      return next();
    }
    const user = userOf(c.req.header('authorization'), admin, viewerPassword);
    if (!user) {
      return c.text('Unauthorized', 401, { 'www-authenticate': 'Basic realm="Ferry dashboard", charset="UTF-8"' });
    }
    if (user.role === 'viewer' && !SAFE.has(c.req.method)) return c.json({ error: 'the viewer may look but not change anything' }, 403);
    c.set('user', user);
    return next();
  };
}
