import { isIP } from 'node:net';

/** Whether a listen address is reachable only from this host. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
