import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { decodeRecord as decode, tenantEventKey } from './event.ts';

const codec = new Codec(loadRegistry());
const value = Buffer.from(codec.encode('orders', {
  event_id: '0b7e2c1a-3f4d-4a5b-8c6d-7e8f9a0b1c2d',
  received_at: 1_800_000_000_000,
  order_id: 'o-1',
  customer_id: 'c-1',
  status: 'created',
  amount_cents: 100,
  currency: 'EUR',
  items: [],
  occurred_at: 1_800_000_000_000,
}));
const raw = (headers?: Record<string, string>) => ({
  topic: 'p.orders',
  partition: 3,
  offset: '42',
  key: Buffer.from('o-1'),
  value,
  ...(headers ? { headers } : {}),
});

describe('decode', () => {
  it('takes the tenant from the ferry-tenant header, and the development tenant without one', () => {
    const withTenant = decode(codec, 'p.', raw({ 'ferry-tenant': 'acme' }));
    assert.ok(!(withTenant instanceof Error));
    assert.equal(withTenant.tenant, 'acme');
    assert.equal(withTenant.topic, 'orders');
    assert.equal(withTenant.key, 'o-1');
    const without = decode(codec, 'p.', raw());
    assert.ok(!(without instanceof Error));
    assert.equal(without.tenant, 'default');
  });

  it("keeps the record's trace headers, and adds nothing without them", () => {
    const traced = decode(
      codec,
      'p.',
      raw({ 'ferry-tenant': 'acme', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'rojo=1' }),
    );
    assert.ok(!(traced instanceof Error));
    assert.equal(traced.traceparent, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    assert.equal(traced.tracestate, 'rojo=1');
    const plain = decode(codec, 'p.', raw({ 'ferry-tenant': 'acme' }));
    assert.ok(!(plain instanceof Error));
    assert.ok(!('traceparent' in plain) && !('tracestate' in plain));
  });

  it('refuses a record whose schema belongs to another topic', () => {
    const wrong = decode(codec, 'p.', { ...raw(), topic: 'p.page_views' });
    assert.ok(wrong instanceof Error);
    assert.match(wrong.message, /belongs to topic orders/);
  });
});

describe('tenantEventKey', () => {
  it('tells apart the same event id of two tenants, even tenants that hold the separator', () => {
    const id = '0b7e2c1a-3f4d-4a5b-8c6d-7e8f9a0b1c2d';
    assert.equal(tenantEventKey('acme', id), tenantEventKey('acme', id));
    assert.notEqual(tenantEventKey('acme', id), tenantEventKey('globex', id));
    assert.notEqual(tenantEventKey('a/b', 'c'), tenantEventKey('a', 'b/c'));
  });
});
