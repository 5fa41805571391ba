import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { generateClientTypes, GENERATED_FILE } from './generate-types.ts';

describe('clients/browser/src/events.generated.ts', () => {
  it('is what the .avsc files generate now (else run: node --import tsx clients/browser/generate-types.ts)', () => {
    assert.equal(readFileSync(GENERATED_FILE, 'utf8'), generateClientTypes());
  });

  it('is the event as a browser sends it: no server fields, optional ids and defaults, timestamps as text', () => {
    const text = generateClientTypes();
    assert.doesNotMatch(text, /received_at/);
    assert.match(text, /event_id\?: string;/);
    assert.match(text, /items\?: OrderItem\[\];/);
    assert.match(text, /referrer\?: null \| string;/);
    assert.match(text, /occurred_at: string \| Date;/);
    assert.match(text, /orders: OrderEvent;\n {2}page_views: PageViewEvent;/);
  });
});
