import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Codec } from '../../schemas/codec.ts';
import { loadRegistry } from '../../schemas/registry.ts';
import { jsonSafe, redact, REDACTED } from './redact.ts';
import { letterView, traceId } from './letter-view.ts';

const codec = new Codec(loadRegistry());
const order = {
  event_id: '0b7e2c1a-3f4d-4a5b-8c6d-7e8f9a0b1c2d',
  received_at: 1_800_000_000_123,
  order_id: 'o-1',
  customer_id: 'c-secret',
  status: 'paid',
  amount_cents: 500,
  currency: 'EUR',
  items: [],
  occurred_at: 1_799_999_999_000,
};

describe('redact', () => {
  it('hides the named fields at any depth and leaves the rest', () => {
    assert.deepEqual(redact({ a: 1, customer_id: 'c', items: [{ customer_id: 'd', sku: 's' }] }, new Set(['customer_id'])), {
      a: 1,
      customer_id: REDACTED,
      items: [{ customer_id: REDACTED, sku: 's' }],
    });
    assert.deepEqual(jsonSafe({ b: Buffer.from('xyz'), n: 10n }), { b: { bytes: 3 }, n: '10' });
  });
});

describe('letterView', () => {
  const stored = (value: Uint8Array | null, headers: Record<string, string> = {}) => ({
    id: 'p.orders:1:7',
    state: 'failed',
    attemptsMade: 1,
    failedReason: 'boom',
    data: {
      topic: 'p.orders',
      partition: 1,
      offset: '7',
      key: 'o-1',
      value_base64: value ? Buffer.from(value).toString('base64') : null,
      headers,
      step: 'apply',
      error: 'boom',
      attempts: [{ at: 't', error: 'boom' }],
      dead_at: '2026-11-25T10:00:00Z',
    },
  });

  it('decodes the record through the schema it names, redacted, and never carries the bytes', () => {
    const v = letterView(codec, new Set(['customer_id']), stored(codec.encode('orders', order), { 'ferry-tenant': 'acme' }));
    assert.equal(v.tenant, 'acme');
    assert.equal(v.schema_id, 1);
    assert.equal((v.record as Record<string, unknown>).order_id, 'o-1');
    assert.equal((v.record as Record<string, unknown>).customer_id, REDACTED);
    assert.ok(!JSON.stringify(v).includes('c-secret'));
    assert.ok(!('value_base64' in v));
    assert.equal(v.redrive_error, undefined);
  });

  it('says why bytes do not decode, and shows a refused redrive', () => {
    const v = letterView(codec, new Set(), { ...stored(Buffer.from('not avro')), attemptsMade: 2, failedReason: 'not replayed: bytes' });
    assert.match(v.decode_error ?? '', /magic byte/);
    assert.equal(v.record, undefined);
    assert.equal(v.redrive_error, 'not replayed: bytes');
  });

  it('shows the trace id of a W3C traceparent header', () => {
    assert.equal(traceId({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }), '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(traceId({ traceparent: 'junk' }), undefined);
    assert.equal(traceId(undefined), undefined);
  });
});
