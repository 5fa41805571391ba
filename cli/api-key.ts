/**
 * Mints an API key: prints the key (give it to the client, once) and the FERRY_API_KEYS entry
 * holding only its SHA-256 (give that to the gateway).
 *
 *   node --import tsx cli/api-key.ts --id shop-web --tenant acme --scope write:orders --scope read:orders
 *   node --import tsx cli/api-key.ts --id shop-pages --tenant acme --scope write:page_views --beacon
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ConfigError } from '../lib/config.ts';
import { parseApiKeys, sha256Hex } from '../lib/api-keys.ts';

const { values } = parseArgs({
  options: { id: { type: 'string' }, tenant: { type: 'string' }, scope: { type: 'string', multiple: true }, beacon: { type: 'boolean' } },
});
if (!values.id || !values.tenant || !values.scope?.length) {
  process.stderr.write('usage: api-key.ts --id <id> --tenant <tenant> --scope write:<topic> [--scope read:orders ...] [--beacon]\n');
  process.exit(2);
}
// 32 random bytes: enough entropy that an unsalted SHA-256 of the key reveals nothing.
const key = `fry_${randomBytes(32).toString('base64url')}`;
const entry = { id: values.id, tenant: values.tenant, sha256: await sha256Hex(key), scopes: values.scope, ...(values.beacon ? { beacon: true } : {}) };
try {
  parseApiKeys(JSON.stringify([entry]), 'arguments');
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
process.stdout.write(`key (give to the client; it is not stored anywhere): ${key}\nFERRY_API_KEYS entry: ${JSON.stringify(entry)}\n`);
