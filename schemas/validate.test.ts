import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Codec } from './codec.ts';
import { TIMESTAMP_MAX_MS } from './limits.ts';
import { loadRegistry } from './registry.ts';
import { type FieldProblem, type SchemaObject, toAvro } from './validate.ts';
import { eventArbitrary, nearMissArbitrary } from '../test/event-arbitraries.ts';

const load = (file: string) => JSON.parse(readFileSync(new URL(file, import.meta.url), 'utf8')) as SchemaObject;
const orders = load('./orders.v1.avsc');
const pageViews = load('./page_views.v1.avsc');

const SERVER_ID = '0b7e2c1a-3f4d-4a5b-8c6d-7e8f9a0b1c2d';
const CLIENT_ID = '9f1c2d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f';
const RECEIVED_AT = 1_800_000_000_000;
const server = { event_id: SERVER_ID, received_at: RECEIVED_AT };

function order(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    order_id: 'o-1',
    customer_id: 'c-1',
    status: 'paid',
    amount_cents: 1999,
    currency: 'EUR',
    items: [
      { sku: 'A', quantity: 1, price_cents: 999 },
      { sku: 'B', quantity: 2, price_cents: 500 },
    ],
    occurred_at: '2026-11-23T10:00:00Z',
    ...overrides,
  };
}

function without(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy = { ...obj };
  delete copy[key];
  return copy;
}

/** Runs toAvro and returns its problems, failing the test if it succeeded. */
function problemsOf(schema: SchemaObject, input: unknown): FieldProblem[] {
  const r = toAvro(schema, input, server);
  assert.equal(r.ok, false, `expected problems, got ${JSON.stringify(r)}`);
  return r.ok ? [] : r.problems;
}

/** Asserts exactly one problem, at `path`, whose reason matches `reason`. */
function assertOneProblem(schema: SchemaObject, input: unknown, path: string, reason: RegExp): void {
  const problems = problemsOf(schema, input);
  assert.equal(problems.length, 1, JSON.stringify(problems));
  assert.equal(problems[0]!.path, path);
  assert.match(problems[0]!.reason, reason);
}

describe('toAvro: valid orders', () => {
  it('converts a full order', () => {
    const r = toAvro(orders, order(), server);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.value, {
      event_id: SERVER_ID,
      received_at: RECEIVED_AT,
      order_id: 'o-1',
      customer_id: 'c-1',
      status: 'paid',
      amount_cents: 1999,
      currency: 'EUR',
      items: [
        { sku: 'A', quantity: 1, price_cents: 999 },
        { sku: 'B', quantity: 2, price_cents: 500 },
      ],
      occurred_at: Date.UTC(2026, 10, 23, 10, 0, 0),
    });
  });

  it('turns an RFC 3339 offset timestamp into epoch milliseconds', () => {
    const r = toAvro(orders, order({ occurred_at: '2026-11-23T12:00:00.250+02:00' }), server);
    assert.ok(r.ok);
    assert.equal(r.value.occurred_at, Date.UTC(2026, 10, 23, 10, 0, 0, 250));
  });

  it('defaults items to [] when absent, a fresh array each time', () => {
    const a = toAvro(orders, without(order(), 'items'), server);
    const b = toAvro(orders, without(order(), 'items'), server);
    assert.ok(a.ok && b.ok);
    assert.deepEqual(a.value.items, []);
    assert.notEqual(a.value.items, b.value.items);
  });

  it('keeps a client event_id that is a valid UUID', () => {
    const r = toAvro(orders, order({ event_id: CLIENT_ID }), server);
    assert.ok(r.ok);
    assert.equal(r.value.event_id, CLIENT_ID);
  });

  it('always takes received_at from the server values', () => {
    const r = toAvro(orders, order(), { event_id: SERVER_ID, received_at: 42 });
    assert.ok(r.ok);
    assert.equal(r.value.received_at, 42);
    assert.equal(r.value.event_id, SERVER_ID);
  });
});

describe('toAvro: problems name the path and a reason', () => {
  it('missing required field', () => {
    assertOneProblem(orders, without(order(), 'customer_id'), 'customer_id', /required/);
  });

  it('unknown top-level field', () => {
    assertOneProblem(orders, order({ colour: 'red' }), 'colour', /not a field/);
  });

  it('unknown nested field', () => {
    const items = [{ sku: 'A', quantity: 1, price_cents: 1, colour: 'red' }];
    assertOneProblem(orders, order({ items }), 'items[0].colour', /not a field/);
  });

  it('wrong type', () => {
    assertOneProblem(orders, order({ customer_id: 7 }), 'customer_id', /must be a string/);
    assertOneProblem(orders, order({ items: 'A' }), 'items', /must be an array/);
    assertOneProblem(orders, order({ items: [42] }), 'items[0]', /must be an object/);
  });

  it('status not in the enum', () => {
    assertOneProblem(orders, order({ status: 'refunded' }), 'status', /one of created, paid, shipped, cancelled/);
  });

  it('currency not matching the pattern', () => {
    assertOneProblem(orders, order({ currency: 'eur' }), 'currency', /must match/);
  });

  it('negative amount_cents', () => {
    assertOneProblem(orders, order({ amount_cents: -1 }), 'amount_cents', /at least 0/);
  });

  it('quantity 0 in the second item', () => {
    const items = [
      { sku: 'A', quantity: 1, price_cents: 1 },
      { sku: 'B', quantity: 0, price_cents: 1 },
    ];
    assertOneProblem(orders, order({ items }), 'items[1].quantity', /at least 1/);
  });

  it('non-integer amount', () => {
    assertOneProblem(orders, order({ amount_cents: 12.5 }), 'amount_cents', /whole number/);
    assertOneProblem(orders, order({ amount_cents: '12' }), 'amount_cents', /whole number/);
  });

  it('int overflow and unsafe long', () => {
    const items = [{ sku: 'A', quantity: 2 ** 31, price_cents: 1 }];
    assertOneProblem(orders, order({ items }), 'items[0].quantity', /32-bit/);
    assertOneProblem(orders, order({ amount_cents: 2 ** 53 }), 'amount_cents', /too large/);
  });

  it('bad timestamps', () => {
    for (const bad of ['yesterday', '2026-11-23', '2026-11-23T10:00:00', 1795428000000]) {
      assertOneProblem(orders, order({ occurred_at: bad }), 'occurred_at', /RFC 3339/);
    }
    assertOneProblem(orders, order({ occurred_at: '2026-13-01T00:00:00Z' }), 'occurred_at', /not a valid date-time/);
  });

  // Date.parse would roll impossible calendar dates over (2026-02-30 -> 2026-03-02).
  it('rejects an impossible calendar date', () => {
    assertOneProblem(orders, order({ occurred_at: '2026-02-30T10:00:00Z' }), 'occurred_at', /date-time/);
    assertOneProblem(orders, order({ occurred_at: '2026-02-29T10:00:00Z' }), 'occurred_at', /date-time/);
    assertOneProblem(orders, order({ occurred_at: '2026-11-23T24:00:00Z' }), 'occurred_at', /date-time/);
    assertOneProblem(orders, order({ occurred_at: '2026-11-23T10:00:00+24:00' }), 'occurred_at', /date-time/);
  });

  it('converts RFC 3339 date-times to the same instant Date.parse gives', () => {
    for (
      const t of [
        '2026-11-23T10:00:00Z',
        '2026-11-23t10:00:00z',
        '2026-11-23 10:00:00Z',
        '2028-02-29T23:59:59Z',
        '2000-02-29T00:00:00Z',
        '2026-11-23T10:00:00.5Z',
        '2026-11-23T10:00:00.123456789Z',
        '2026-11-23T10:00:00+05:30',
        '2026-11-23T01:00:00-08:00',
        '1970-01-01T00:00:00Z',
        '1970-01-01T01:00:00+01:00',
        '2106-02-06T23:59:59.999Z',
        '2106-02-07T00:59:59+01:00',
      ]
    ) {
      const r = toAvro(orders, order({ occurred_at: t }), server);
      assert.ok(r.ok, t);
      assert.equal(r.value.occurred_at, Date.parse(t.replace(' ', 'T').toUpperCase()), t);
    }
  });

  // The common `...Z` shape is read by hand (utcTimestamp), the rest by a regular expression:
  // both must agree with Date.parse on every instant, and refuse the same malformed strings.
  it('reads generated UTC date-times like Date.parse, with 0 to 9 fraction digits', () => {
    let seed = 7;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const pad = (v: number, w: number) => String(v).padStart(w, '0');
    for (let i = 0; i < 3000; i++) {
      const digits = rand(10);
      const fraction = digits === 0 ? '' : `.${Array.from({ length: digits }, () => rand(10)).join('')}`;
      const t = `${pad(1970 + rand(136), 4)}-${pad(1 + rand(12), 2)}-${pad(1 + rand(28), 2)}T${pad(rand(24), 2)}:${pad(rand(60), 2)}:${
        pad(rand(60), 2)
      }${fraction}Z`;
      const r = toAvro(orders, order({ occurred_at: t }), server);
      assert.ok(r.ok, t);
      assert.equal(r.value.occurred_at, Date.parse(t), t);
    }
    for (
      const bad of [
        '2026-11-23T10:00:00.Z',
        '2026-11-23T10:00:00,5Z',
        '2026-11-23T10:00:00.1234567890Z',
        '2026-11-23T10:00:0aZ',
        '2026-11-23T10-00:00Z',
        '2026-1-23T10:00:00Z',
        '２026-11-23T10:00:00Z',
      ]
    ) {
      assertOneProblem(orders, order({ occurred_at: bad }), 'occurred_at', /RFC 3339/);
    }
  });

  it('bad uuid', () => {
    assertOneProblem(orders, order({ event_id: 'not-a-uuid' }), 'event_id', /UUID/);
    assertOneProblem(orders, order({ event_id: CLIENT_ID.replace(/-/g, '') }), 'event_id', /UUID/);
  });

  it('client sending the server field received_at', () => {
    const problems = problemsOf(orders, order({ received_at: '2026-11-23T10:00:00Z' }));
    assert.deepEqual(problems, [{ path: 'received_at', reason: 'is set by the gateway and may not be sent' }]);
  });

  // A received_at the client may not send is not type-checked as well (that would add a
  // second, misleading problem: "must be an RFC 3339 date-time").
  it('reports a non-timestamp received_at only once', () => {
    assertOneProblem(orders, order({ received_at: 5 }), 'received_at', /set by the gateway/);
  });

  it('non-object bodies', () => {
    for (const body of [[order()], null, 'order', 5, undefined]) {
      assert.deepEqual(problemsOf(orders, body), [{ path: '', reason: 'must be a JSON object' }]);
    }
  });

  it('empty order_id', () => {
    assertOneProblem(orders, order({ order_id: '' }), 'order_id', /may not be empty/);
  });

  it('too long order_id', () => {
    assertOneProblem(orders, order({ order_id: 'x'.repeat(129) }), 'order_id', /at most 128/);
  });

  it('null for a non-nullable field', () => {
    assertOneProblem(orders, order({ currency: null }), 'currency', /must be a string/);
  });

  it('reports several problems at once, in field order', () => {
    const problems = problemsOf(orders, order({ status: 'x', currency: 'x' }));
    assert.deepEqual(problems.map((p) => p.path), ['status', 'currency']);
  });

  it('caps problems at 20', () => {
    const items = Array.from({ length: 30 }, (_, i) => ({ sku: `s${i}`, quantity: 0, price_cents: 1 }));
    const problems = problemsOf(orders, order({ items }));
    assert.equal(problems.length, 20);
    assert.equal(problems[0]!.path, 'items[0].quantity');
    assert.equal(problems[19]!.path, 'items[19].quantity');
  });

  it('caps problems at 20 for unknown fields too', () => {
    const extra = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`extra${i}`, i]));
    const problems = problemsOf(orders, order(extra));
    assert.equal(problems.length, 20);
    assert.ok(problems.every((p) => /^extra\d+$/.test(p.path) && /not a field/.test(p.reason)));
  });
});

describe('toAvro: page_views', () => {
  const view = (overrides: Record<string, unknown> = {}) => ({
    user_id: 'u-1',
    url: 'https://shop.example/p/1',
    referrer: 'https://search.example/?q=1',
    occurred_at: '2026-11-23T10:00:00Z',
    ...overrides,
  });

  it('accepts a page view with a referrer', () => {
    const r = toAvro(pageViews, view(), server);
    assert.ok(r.ok);
    assert.equal(r.value.referrer, 'https://search.example/?q=1');
    assert.equal(r.value.event_id, SERVER_ID);
    assert.equal(r.value.occurred_at, Date.UTC(2026, 10, 23, 10));
  });

  it('accepts a null referrer', () => {
    const r = toAvro(pageViews, view({ referrer: null }), server);
    assert.ok(r.ok);
    assert.equal(r.value.referrer, null);
  });

  it('defaults a missing referrer to null', () => {
    const r = toAvro(pageViews, without(view(), 'referrer'), server);
    assert.ok(r.ok);
    assert.ok(Object.hasOwn(r.value, 'referrer'));
    assert.equal(r.value.referrer, null);
  });

  it('checks the referrer length through the union', () => {
    assertOneProblem(pageViews, view({ referrer: 'x'.repeat(2049) }), 'referrer', /at most 2048/);
    assertOneProblem(pageViews, view({ referrer: 5 }), 'referrer', /must be a string/);
  });

  it('rejects a non-http url', () => {
    assertOneProblem(pageViews, view({ url: 'ftp://x' }), 'url', /must match/);
  });
});

describe('toAvro: what every sink can store', () => {
  const view = { user_id: 'u-1', url: 'https://shop.example/', occurred_at: '2026-11-23T10:00:00Z' };

  it('refuses NUL in any string, nested and in unions too', () => {
    assertOneProblem(orders, order({ customer_id: 'c\u0000' }), 'customer_id', /U\+0000/);
    assertOneProblem(orders, order({ order_id: '\u0000' }), 'order_id', /U\+0000/);
    assertOneProblem(orders, order({ items: [{ sku: 'A\u0000B', quantity: 1, price_cents: 1 }] }), 'items[0].sku', /U\+0000/);
    assertOneProblem(pageViews, { ...view, referrer: 'https://a.example/\u0000' }, 'referrer', /U\+0000/);
    assertOneProblem(pageViews, { ...view, url: 'https://a.example/\u0000' }, 'url', /U\+0000/);
  });

  it('refuses unpaired surrogates, keeps paired ones', () => {
    for (const bad of ['\ud800', 'a\udfff', '\ud83d', '\ude00\ud83d', 'x\ud800y']) {
      assertOneProblem(orders, order({ order_id: bad }), 'order_id', /unpaired surrogate/);
    }
    const r = toAvro(orders, order({ order_id: '\ud83d\ude00\u{10ffff}\ufffe' }), server);
    assert.ok(r.ok);
    assert.equal(r.value.order_id, '😀\u{10ffff}\ufffe');
  });

  it('counts lengths in code points, as JSON Schema does', () => {
    assert.ok(toAvro(orders, order({ order_id: '😀'.repeat(128) }), server).ok, '128 astral characters fit');
    assertOneProblem(orders, order({ order_id: '😀'.repeat(129) }), 'order_id', /at most 128/);
    assertOneProblem(orders, order({ order_id: 'x'.repeat(127) + '😀😀' }), 'order_id', /at most 128/);
  });

  it('takes timestamps from 1970-01-01T00:00:00Z to 2106-02-06T23:59:59.999Z, what ClickHouse DateTime files', () => {
    for (const ok of ['1970-01-01T00:00:00Z', '2106-02-06T23:59:59.999Z', '1970-01-01T02:00:00+02:00']) {
      const r = toAvro(orders, order({ occurred_at: ok }), server);
      assert.ok(r.ok, ok);
    }
    assert.equal(TIMESTAMP_MAX_MS, Date.parse('2106-02-06T23:59:59.999Z'));
    for (
      const bad of [
        '0000-01-01T00:00:00Z',
        '1969-12-31T23:59:59.999Z',
        '1970-01-01T00:00:00+00:01',
        '2106-02-07T00:00:00Z',
        '2106-02-06T23:59:59.999-00:01',
        '9999-12-31T23:59:59Z',
      ]
    ) {
      assertOneProblem(orders, order({ occurred_at: bad }), 'occurred_at', /between 1970-01-01T00:00:00.000Z and 2106-02-06T23:59:59.999Z/);
    }
  });

  it('holds integers to their Avro type and JS safe integers', () => {
    // avsc refuses to encode a long beyond ±(2^53 - 2).
    assert.ok(toAvro(orders, order({ amount_cents: 2 ** 53 - 2 }), server).ok);
    assertOneProblem(orders, order({ amount_cents: 2 ** 53 - 1 }), 'amount_cents', /at most 9007199254740990/);
    assertOneProblem(orders, order({ amount_cents: 2 ** 53 }), 'amount_cents', /too large/);
    assert.ok(toAvro(orders, order({ items: [{ sku: 'A', quantity: 2 ** 31 - 1, price_cents: 0 }] }), server).ok);
    assertOneProblem(orders, order({ items: [{ sku: 'A', quantity: 1, price_cents: -1 }] }), 'items[0].price_cents', /at least 0/);
    assertOneProblem(orders, order({ items: [{ sku: 'A', quantity: -(2 ** 31) - 1, price_cents: 0 }] }), 'items[0].quantity', /32-bit/);
  });

  it('bounds arrays and strings that name no limit of their own', () => {
    const items = Array.from({ length: 1001 }, () => ({ sku: 'A', quantity: 1, price_cents: 1 }));
    assertOneProblem(orders, order({ items }), 'items', /at most 1000 items/);
    assert.ok(toAvro(orders, order({ items: items.slice(1) }), server).ok);
  });
});

describe('toAvro: properties', () => {
  const registry = loadRegistry();
  const codec = new Codec(registry);
  const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

  for (const [topic, schema] of [['orders', orders], ['page_views', pageViews]] as const) {
    it(`every ${topic} event within the limits validates and survives the codec unchanged`, () => {
      fc.assert(
        fc.property(eventArbitrary(schema), (event) => {
          const r = toAvro(schema, event, server);
          assert.ok(r.ok, JSON.stringify(r));
          for (const [k, v] of Object.entries(event)) if (typeof v === 'string' && !k.endsWith('_at')) assert.equal(r.value[k], v, k);
          assert.deepEqual(plain(codec.decode(codec.encode(topic, r.value)).value), plain(r.value));
        }),
        { numRuns: 300 },
      );
    });

    it(`every ${topic} near-miss is refused, naming the field`, () => {
      fc.assert(
        fc.property(nearMissArbitrary(schema), (miss) => {
          const r = toAvro(schema, miss.event, server);
          assert.equal(r.ok, false, `${miss.what} at ${miss.field} was accepted`);
          if (r.ok) return;
          assert.deepEqual(r.problems.map((p) => p.path), [miss.field], `${miss.what}: ${JSON.stringify(r.problems)}`);
          assert.match(r.problems[0]!.reason, miss.reason, miss.what);
        }),
        { numRuns: 300 },
      );
    });
  }
});
