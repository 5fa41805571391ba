import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backwardIncompatibility } from './compatibility.ts';
import { loadRegistry } from './registry.ts';
import type { FieldSchema, SchemaObject } from './validate.ts';

const registry = loadRegistry();
const ordersV1 = registry.topics.get('orders')!.versions[0]!.schema;
const withFields = (map: (fields: FieldSchema[]) => FieldSchema[]): SchemaObject => ({ ...ordersV1, fields: map(structuredClone(ordersV1.fields!)) });

describe('the committed registry', () => {
  it('every version of every topic reads records written with each earlier version (BACKWARD_TRANSITIVE)', () => {
    for (const [topic, entry] of registry.topics) {
      entry.versions.forEach((newer, i) => {
        for (const older of entry.versions.slice(0, i)) {
          assert.equal(
            backwardIncompatibility(newer.schema, older.schema),
            undefined,
            `${topic} v${newer.version} (${newer.file}) vs v${older.version} (${older.file})`,
          );
        }
      });
    }
  });
});

describe('backwardIncompatibility', () => {
  it('accepts the same schema, a new field with a default, a removed field and a widened type', () => {
    assert.equal(backwardIncompatibility(ordersV1, ordersV1), undefined);
    assert.equal(backwardIncompatibility(withFields((f) => [...f, { name: 'coupon', type: ['null', 'string'], default: null }]), ordersV1), undefined);
    assert.equal(backwardIncompatibility(withFields((f) => f.filter((x) => x.name !== 'currency')), ordersV1), undefined);
    assert.equal(backwardIncompatibility(withFields((f) => f.map((x) => (x.name === 'amount_cents' ? { ...x, type: 'double' } : x))), ordersV1), undefined);
  });

  it('names a new field without a default', () => {
    const problem = backwardIncompatibility(withFields((f) => [...f, { name: 'coupon', type: 'string' }]), ordersV1);
    assert.match(problem ?? '', /^field coupon is new and has no default/);
  });

  it('names a nested field, through arrays', () => {
    const v2 = withFields((f) =>
      f.map((x) => {
        if (x.name !== 'items') return x;
        const items = (x.type as SchemaObject).items as SchemaObject;
        return { ...x, type: { ...(x.type as SchemaObject), items: { ...items, fields: [...items.fields!, { name: 'tax_cents', type: 'long' }] } } };
      })
    );
    assert.match(backwardIncompatibility(v2, ordersV1) ?? '', /^field items\[\]\.tax_cents is new and has no default/);
  });

  it('names a narrowed type and a lost enum symbol', () => {
    const narrowed = withFields((f) => f.map((x) => (x.name === 'amount_cents' ? { ...x, type: 'int' } : x)));
    assert.match(backwardIncompatibility(narrowed, ordersV1) ?? '', /^field amount_cents: cannot read "long" as "int"/);
    const lost = withFields((f) =>
      f.map((x) => (x.name === 'status' ? { ...x, type: { type: 'enum', name: 'OrderStatus', symbols: ['created', 'paid'] } } : x))
    );
    assert.match(backwardIncompatibility(lost, ordersV1) ?? '', /^field status: enum .*OrderStatus lost symbols shipped, cancelled/);
  });

  it('names a renamed record', () => {
    assert.match(backwardIncompatibility({ ...ordersV1, name: 'Order' }, ordersV1) ?? '', /^the schema: record .*Order is not .*OrderEvent/);
  });
});
