import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PEER_KEY_HEADER, toPeerRequest } from './peer-requests.ts';

const keys = new Map([['orders', 'order_id'], ['page_views', 'user_id']]);

test('a single event goes to the prefixed topic with the same body, keyed by its key field', () => {
  const body = JSON.stringify({ order_id: 'r1-o7', status: 'paid' });
  assert.deepEqual(toPeerRequest({ path: '/v1/events/orders', body }, 'x.peer.', keys), {
    path: '/topics/x.peer.orders',
    body,
    headers: { [PEER_KEY_HEADER]: 'r1-o7' },
  });
  const pv = toPeerRequest({ path: '/v1/events/page_views', body: '{"user_id":"r1-u3","url":"u"}', headers: { 'x-a': 'b' } }, '', keys);
  assert.equal(pv.path, '/topics/page_views');
  assert.deepEqual(pv.headers, { 'x-a': 'b', [PEER_KEY_HEADER]: 'r1-u3' });
});

test('batches, unknown topics and events without their key are refused', () => {
  assert.throws(() => toPeerRequest({ path: '/v1/events/orders', body: '[{"order_id":"a"}]' }, '', keys), /not one event/);
  assert.throws(() => toPeerRequest({ path: '/v1/events/clicks', body: '{}' }, '', keys), /known topic/);
  assert.throws(() => toPeerRequest({ path: '/v1/events/orders', body: '{"user_id":"a"}' }, '', keys), /no string order_id/);
});
