/**
 * Who is calling: API keys (stored as SHA-256 hashes) and HS256 JWT bearer tokens, each with a
 * tenant and scopes (`write:<topic>`, `read:orders`). Web standards only (Web Crypto, hono/jwt),
 * so the same code runs on Node and Deno. The tenant always comes from the credential.
 *
 * Never log what a client presented: a key or token in a log is a leaked credential.
 */
import type { MiddlewareHandler } from 'hono';
import { verify } from 'hono/jwt';
import { type ApiKeyEntry, sha256Hex, TENANT } from '../lib/api-keys.ts';
import { problem } from '../lib/problem.ts';
import { type HeadersReader, readWebHeaders, type RequestHeaders } from './headers.ts';

export type { ApiKeyEntry };

export interface Credential {
  /** Stable identity for rate limits and logs: `key:<id>`, `jwt:<tenant>:<sub>` or `anonymous`. */
  id: string;
  tenant: string;
  scopes: ReadonlySet<string>;
  kind: 'api-key' | 'jwt' | 'anonymous';
}

export interface JwtOptions {
  /** HS256 shared secret, at least 32 characters. */
  secret: string;
  /** When set, tokens must carry this `iss`. */
  issuer?: string;
  /** When set, tokens must carry this `aud`. */
  audience?: string;
}

export type AuthResult = { ok: true; credential: Credential } | { ok: false; reason: 'missing' | 'invalid'; detail: string };

export interface Authenticator {
  authenticate(headers: RequestHeaders): Promise<AuthResult>;
  /** A key from a beacon's URL: only keys listed with `beacon: true` are taken. */
  authenticateBeacon(key: string | undefined): Promise<AuthResult>;
}

/** The caller when authentication is off: tenant `default`, every scope. */
export const ANONYMOUS: Credential = Object.freeze({ id: 'anonymous', tenant: 'default', scopes: new Set<string>(), kind: 'anonymous' });

export interface AuthenticatorOptions {
  apiKeys?: ApiKeyEntry[];
  jwt?: JwtOptions;
  /**
   * SHA-256 of a presented API key as lower-case hex; runtimes may pass a cheaper one (every
   * request with a key is hashed). @defaultValue sha256Hex (Web Crypto)
   */
  sha256?: (text: string) => string | Promise<string>;
}

/** Returns an authenticator, or undefined when neither API keys nor a JWT secret are configured. */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator | undefined {
  const keys = new Map<string, Credential>();
  // Credentials (not digests), so a key found by fromApiKey can be checked for the flag.
  const beaconKeys = new Set<Credential>();
  for (const k of options.apiKeys ?? []) {
    const credential: Credential = { id: `key:${k.id}`, tenant: k.tenant, scopes: new Set(k.scopes), kind: 'api-key' };
    keys.set(k.sha256.toLowerCase(), credential);
    if (k.beacon) beaconKeys.add(credential);
  }
  const jwt = options.jwt;
  if (keys.size === 0 && !jwt) return undefined;
  const sha256 = options.sha256 ?? sha256Hex;

  async function fromApiKey(key: string): Promise<AuthResult> {
    // A map lookup by digest: the key is high-entropy, so its unsalted hash reveals nothing and
    // the lookup's timing depends only on the digest, which the caller cannot steer.
    const found = keys.get(await sha256(key));
    return found ? { ok: true, credential: found } : { ok: false, reason: 'invalid', detail: 'the API key is not valid' };
  }

  async function fromJwt(token: string, secret: JwtOptions): Promise<AuthResult> {
    let claims: Record<string, unknown>;
    try {
      claims = (await verify(token, secret.secret, {
        alg: 'HS256',
        ...(secret.issuer ? { iss: secret.issuer } : {}),
        ...(secret.audience ? { aud: secret.audience } : {}),
      })) as Record<string, unknown>;
    } catch (err) {
      const expired = (err as Error).name === 'JwtTokenExpired';
      return { ok: false, reason: 'invalid', detail: expired ? 'the token has expired' : 'the token is not valid' };
    }
    const { sub, tenant, scope, exp } = claims;
    if (typeof exp !== 'number') return { ok: false, reason: 'invalid', detail: 'the token has no exp claim' };
    if (typeof sub !== 'string' || sub === '') return { ok: false, reason: 'invalid', detail: 'the token has no sub claim' };
    if (typeof tenant !== 'string' || !TENANT.test(tenant)) return { ok: false, reason: 'invalid', detail: 'the token has no valid tenant claim' };
    const scopes = typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [];
    return { ok: true, credential: { id: `jwt:${tenant}:${sub}`, tenant, scopes: new Set(scopes), kind: 'jwt' } };
  }

  return {
    async authenticateBeacon(key: string | undefined): Promise<AuthResult> {
      if (key === undefined || key === '') return { ok: false, reason: 'missing', detail: 'send the API key as ?key= (a key listed with "beacon": true)' };
      const result = await fromApiKey(key);
      // A key that may not travel in URLs stays refused here even when valid: its holder chose
      // headers, and URLs end up in proxies' and browsers' logs.
      if (result.ok && !beaconKeys.has(result.credential)) {
        return { ok: false, reason: 'invalid', detail: 'this API key may not be sent in a URL; list a key with "beacon": true for beacons' };
      }
      return result;
    },
    async authenticate(headers: RequestHeaders): Promise<AuthResult> {
      const authorization = headers.get('authorization');
      const apiKey = headers.get('x-api-key');
      if (authorization !== null) {
        const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
        if (!m) return { ok: false, reason: 'invalid', detail: 'use Authorization: Bearer <token or API key>' };
        const token = m[1]!;
        if (jwt && token.split('.').length === 3) return fromJwt(token, jwt);
        if (keys.size > 0) return fromApiKey(token);
        return { ok: false, reason: 'invalid', detail: 'the token is not valid' };
      }
      if (apiKey !== null) {
        if (keys.size === 0) return { ok: false, reason: 'invalid', detail: 'API keys are not accepted here; send a bearer token' };
        return fromApiKey(apiKey.trim());
      }
      return { ok: false, reason: 'missing', detail: 'send an API key (X-API-Key or Authorization: Bearer) or a bearer token' };
    },
  };
}

/** Whether the credential holds `scope`; the anonymous caller (authentication off) holds all. */
export function hasScope(credential: Credential, scope: string): boolean {
  return credential.kind === 'anonymous' || credential.scopes.has(scope);
}

const REALM = 'Bearer realm="ferry"';

/**
 * Sets `credential` on the context, or answers 401. Without an authenticator every caller is
 * ANONYMOUS (authentication off; the entry point warns loudly at start-up). `from` says where
 * the credential is: the headers (read by `readHeaders`), or (the beacon route only) a beacon key in `?key=`.
 */
export const authenticate = (
  authenticator: Authenticator | undefined,
  from: 'headers' | 'beacon-url' = 'headers',
  readHeaders: HeadersReader = readWebHeaders,
): MiddlewareHandler<{ Variables: { credential: Credential } }> =>
  async function authenticate(c, next) {
    if (!authenticator) {
      c.set('credential', ANONYMOUS);
      return next();
    }
    const result = from === 'headers' ? await authenticator.authenticate(readHeaders(c)) : await authenticator.authenticateBeacon(c.req.query('key'));
    if (!result.ok) {
      // No Bearer challenge for a beacon: its way in is the URL, not a header.
      if (from === 'beacon-url') return problem(c, 401, 'Unauthorized', result.detail);
      const challenge = result.reason === 'missing' ? REALM : `${REALM}, error="invalid_token"`;
      return problem(c, 401, 'Unauthorized', result.detail, {}, { 'www-authenticate': challenge });
    }
    c.set('credential', result.credential);
    return next();
  };

/** The 403 answer for a credential without `scope`. */
export function forbidden(c: Parameters<MiddlewareHandler>[0], scope: string): Response {
  return problem(c, 403, 'Forbidden', `this credential lacks the scope ${scope}`, { required_scope: scope }, {
    'www-authenticate': `${REALM}, error="insufficient_scope", scope="${scope}"`,
  });
}
