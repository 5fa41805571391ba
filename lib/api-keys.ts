/**
 * API keys as configured (FERRY_API_KEYS): parsed and checked here, shared by the gateway's
 * authenticator and the `api-key` command that mints them. Keys are stored as SHA-256 hashes.
 */
import { ConfigError } from './config.ts';

export interface ApiKeyEntry {
  id: string;
  tenant: string;
  /** Hex SHA-256 of the key the client sends. */
  sha256: string;
  scopes: string[];
  /**
   * Whether the key may also come as `?key=` on `POST /v1/beacon/:topic`, for web pages'
   * `navigator.sendBeacon`, which cannot set headers. A key a page carries is public anyway; a
   * beacon key may hold write scopes only. @defaultValue false
   */
  beacon?: boolean;
}

/** Tenants are names: letters, digits, ".", "_" or "-". */
export const TENANT = /^[A-Za-z0-9._-]{1,64}$/;
const SCOPE = /^(read|write):[A-Za-z0-9._-]+$/;
const HEX64 = /^[0-9a-f]{64}$/;

export async function sha256Hex(text: string): Promise<string> {
  const bytes = new TextEncoder().encode(text);
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Parses FERRY_API_KEYS: a JSON array of `{id, tenant, sha256, scopes, beacon?}`. Throws ConfigError
 * naming the entry, never echoing the value (it is credential material).
 */
export function parseApiKeys(raw: string | undefined, variable = 'FERRY_API_KEYS'): ApiKeyEntry[] {
  if (raw === undefined || raw.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(variable, 'must be a JSON array of {"id","tenant","sha256","scopes"}');
  }
  if (!Array.isArray(parsed)) throw new ConfigError(variable, 'must be a JSON array of {"id","tenant","sha256","scopes"}');
  const ids = new Set<string>();
  const hashes = new Set<string>();
  return parsed.map((entry: unknown, i): ApiKeyEntry => {
    const e = entry as Partial<Record<keyof ApiKeyEntry, unknown>>;
    const where = `entry ${i}`;
    if (typeof e !== 'object' || e === null) throw new ConfigError(variable, `${where} must be an object`);
    if (typeof e.id !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(e.id)) {
      throw new ConfigError(variable, `${where}: id must be 1-64 letters, digits, ".", "_" or "-"`);
    }
    if (ids.has(e.id)) throw new ConfigError(variable, `${where}: id ${e.id} is used twice`);
    if (typeof e.tenant !== 'string' || !TENANT.test(e.tenant)) {
      throw new ConfigError(variable, `${where} (${e.id}): tenant must be 1-64 letters, digits, ".", "_" or "-"`);
    }
    if (typeof e.sha256 !== 'string' || !HEX64.test(e.sha256.toLowerCase())) {
      throw new ConfigError(variable, `${where} (${e.id}): sha256 must be 64 hex digits`);
    }
    if (hashes.has(e.sha256.toLowerCase())) throw new ConfigError(variable, `${where} (${e.id}): the same key hash is listed twice`);
    if (!Array.isArray(e.scopes) || !e.scopes.every((s) => typeof s === 'string' && SCOPE.test(s))) {
      throw new ConfigError(variable, `${where} (${e.id}): scopes must be an array like ["write:orders","read:orders"]`);
    }
    if (e.beacon !== undefined && typeof e.beacon !== 'boolean') throw new ConfigError(variable, `${where} (${e.id}): beacon must be true or false`);
    if (e.beacon === true && !(e.scopes as string[]).every((s) => s.startsWith('write:'))) {
      throw new ConfigError(variable, `${where} (${e.id}): a beacon key travels in URLs and web pages; give it write scopes only`);
    }
    ids.add(e.id);
    hashes.add(e.sha256.toLowerCase());
    return { id: e.id, tenant: e.tenant, sha256: e.sha256.toLowerCase(), scopes: e.scopes as string[], ...(e.beacon === true ? { beacon: true } : {}) };
  });
}
