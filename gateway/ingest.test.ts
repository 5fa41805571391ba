import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createApp } from './app.ts';
import { FakeProducer, order } from '../test/fakes.ts';

const registry = loadRegistry();

describe('POST /v1/events/:topic codings', () => {
  const producer = new FakeProducer();
  const app = createApp({ registry, codec: new Codec(registry), producer });
  const send = (headers: Record<string, string>, body = JSON.stringify(order())) =>
    app.request('/v1/events/orders', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  it('answers 415 with Accept-Encoding for a compressed body instead of a confusing 400', async () => {
    const res = await send({ 'content-encoding': 'gzip' }, 'x');
    assert.equal(res.status, 415);
    assert.equal(res.headers.get('accept-encoding'), 'identity');
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.equal((await send({ 'content-encoding': 'identity' })).status, 202);
  });

  it('answers 501 for a transfer coding other than chunked (the runtime would pass it on undecoded)', async () => {
    const res = await send({ 'transfer-encoding': 'gzip, chunked' });
    assert.equal(res.status, 501);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.equal((await send({ 'transfer-encoding': 'chunked' })).status, 202);
    assert.equal(producer.records.length, 2);
  });
});
