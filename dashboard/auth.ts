/**
 * HTTP Basic for the dashboard with two roles: the admin (DASHBOARD_USER / DASHBOARD_PASSWORD)
 * may replay and discard; the viewer (`viewer` / DASHBOARD_READONLY_PASSWORD) may only look, so
 * any change it asks for is refused with 403. Without credentials (loopback only) everyone is
 * the admin, named `loopback` in the audit log.
 */
import type { MiddlewareHandler } from 'hono';
import { basicAuth } from 'hono/basic-auth';

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

/**
 * hono's Basic auth (constant-time comparison) over the admin and, when set, the viewer; the
 * matched name picks the role. The config refuses an admin named like the viewer.
 */
export function dashboardAuth(admin: Credential | undefined, viewerPassword?: string): MiddlewareHandler {
  if (!admin) {
    return async function dashboardAuth(c, next) {
      c.set('user', LOOPBACK_USER);
      return next();
    };
  }
  const basic = basicAuth(
    {
      ...admin,
      realm: 'Ferry dashboard',
      onAuthSuccess: (c, username) => c.set('user', { name: username, role: username === admin.username ? 'admin' : 'viewer' }),
    },
    ...(viewerPassword ? [{ username: VIEWER_USER, password: viewerPassword }] : []),
  );
  return async function dashboardAuth(c, next) {
    let refused = false;
    await basic(c, async () => {
      if (c.get('user').role === 'viewer' && !SAFE.has(c.req.method)) refused = true;
      else await next();
    });
    if (refused) return c.json({ error: 'the viewer may look but not change anything' }, 403);
  };
}
