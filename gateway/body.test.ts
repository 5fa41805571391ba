import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hono } from 'hono';
import { type BodyResult, readWebBody } from './body.ts';

/** Runs readWebBody inside a Hono handler, as the gateway does. */
async function read(init: RequestInit, max: number): Promise<BodyResult> {
  let result: BodyResult | undefined;
  const app = new Hono();
  app.post('/', async (c) => {
    result = await readWebBody(c, max);
    return c.body(null, 204);
  });
  await app.request('/', { method: 'POST', ...init });
  return result!;
}

function stream(parts: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const p of parts) controller.enqueue(enc.encode(p));
      controller.close();
    },
  });
}

describe('readWebBody', () => {
  it('reads a body in one or many chunks', async () => {
    assert.deepEqual(await read({ body: '{"a":1}' }, 100), { ok: true, text: '{"a":1}' });
    assert.deepEqual(await read({ body: stream(['{"a"', ':1', '}']), duplex: 'half' } as RequestInit, 100), { ok: true, text: '{"a":1}' });
  });

  it('refuses a declared Content-Length over the limit without reading', async () => {
    assert.deepEqual(await read({ body: 'x'.repeat(10), headers: { 'content-length': '10' } }, 9), { ok: false, reason: 'too-large' });
  });

  it('refuses a streamed body once the bytes pass the limit', async () => {
    assert.deepEqual(await read({ body: stream(['12345', '67890']), duplex: 'half' } as RequestInit, 9), { ok: false, reason: 'too-large' });
    assert.deepEqual(await read({ body: stream(['12345', '6789']), duplex: 'half' } as RequestInit, 9), { ok: true, text: '123456789' });
  });

  it('refuses bytes that are not UTF-8, and decodes a character split across chunks', async () => {
    const bad = await read({ body: new Uint8Array([0x7b, 0xff, 0x7d]) }, 100);
    assert.equal(bad.ok, false);
    assert.match((bad as { detail: string }).detail, /UTF-8/);
    const euro = new TextEncoder().encode('"€"');
    const split = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(euro.slice(0, 2));
        controller.enqueue(euro.slice(2));
        controller.close();
      },
    });
    assert.deepEqual(await read({ body: split, duplex: 'half' } as RequestInit, 100), { ok: true, text: '"€"' });
  });
});
