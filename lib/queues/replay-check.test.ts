import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Codec } from '../../schemas/codec.ts';
import { loadRegistry } from '../../schemas/registry.ts';
import type { DeadLetter } from './dead-letters.ts';
import { whyNotReplayable } from './replay-check.ts';

const codec = new Codec(loadRegistry());
const order = {
  event_id: '0b7e2c1a-3f4d-4a5b-8c6d-7e8f9a0b1c2d',
  received_at: 1_800_000_000_123,
  order_id: 'o-1',
  customer_id: 'c-1',
  status: 'paid',
  amount_cents: 500,
  currency: 'EUR',
  items: [],
  occurred_at: 1_799_999_999_000,
};
const pageView = {
  event_id: '9f1c2d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f',
  received_at: 1_800_000_000_000,
  user_id: 'u-1',
  url: 'https://shop.example/p/1',
  referrer: null,
  occurred_at: 1_799_999_000_000,
};

function letter(topic: string, value: Uint8Array | null): DeadLetter {
  return {
    topic,
    partition: 0,
    offset: '1',
    key: 'o-1',
    value_base64: value === null ? null : Buffer.from(value).toString('base64'),
    step: 'apply',
    error: 'e',
    attempts: [],
    dead_at: '2026-11-25T00:00:00Z',
  };
}

describe('whyNotReplayable', () => {
  it('lets a letter go whose record decodes for its own topic', () => {
    assert.equal(whyNotReplayable(codec, 'p.', letter('p.orders', codec.encode('orders', order))), undefined);
    assert.equal(whyNotReplayable(codec, '', letter('page_views', codec.encode('page_views', pageView))), undefined);
  });

  it("refuses a topic that is not Ferry's, under the deployment prefix", () => {
    assert.match(whyNotReplayable(codec, 'p.', letter('orders', codec.encode('orders', order))) ?? '', /orders is not one of Ferry's topics/);
    assert.match(whyNotReplayable(codec, 'p.', letter('p.elsewhere', codec.encode('orders', order))) ?? '', /not one of Ferry's topics/);
  });

  it("refuses what the worker would dead-letter again: no value, bytes that do not decode, another topic's schema", () => {
    assert.match(whyNotReplayable(codec, '', letter('orders', null)) ?? '', /no record value/);
    assert.match(whyNotReplayable(codec, '', letter('orders', Buffer.from('not avro'))) ?? '', /magic byte.*dead-letter it again/);
    assert.match(whyNotReplayable(codec, '', letter('orders', codec.encode('page_views', pageView))) ?? '', /belongs to topic page_views, not orders/);
  });
});
