import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { GENERATED_FILE, generateTypes } from './generate-types.ts';

describe('schemas/types.generated.ts', () => {
  it('is what the .avsc files generate now (else run: node --import tsx schemas/generate-types.ts)', () => {
    assert.equal(readFileSync(GENERATED_FILE, 'utf8'), generateTypes());
  });

  it('types every field of every topic, enums as unions and nullable unions with null', () => {
    const text = generateTypes();
    assert.match(text, /export type OrderStatus = 'created' \| 'paid' \| 'shipped' \| 'cancelled';/);
    assert.match(text, /items: OrderItem\[\];/);
    assert.match(text, /referrer: null \| string;/);
    assert.match(text, /orders: OrderEvent;\n {2}page_views: PageViewEvent;/);
  });
});
