import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeApplied, DEFAULT_TENANT, encodeApplied } from './contract.ts';

describe('applied announcements', () => {
  it('carry (tenant, event id) pairs through encode and decode', () => {
    const events = [
      { tenant: 'acme', eventId: 'e-1' },
      { tenant: 'globex', eventId: 'e-1' },
      { tenant: 'acme', eventId: 'e-2' },
    ];
    const message = encodeApplied(events);
    assert.deepEqual(JSON.parse(message), { event_ids: ['e-1', 'e-1', 'e-2'], tenants: ['acme', 'globex', 'acme'] });
    assert.deepEqual(decodeApplied(message), events);
    assert.deepEqual(decodeApplied(encodeApplied([])), []);
  });

  it("read the older shape's ids as the development tenant's", () => {
    assert.deepEqual(decodeApplied('{"event_ids":["a","b"]}'), [
      { tenant: DEFAULT_TENANT, eventId: 'a' },
      { tenant: DEFAULT_TENANT, eventId: 'b' },
    ]);
  });

  it('refuse what is not an announcement, and skip pairs that are not strings', () => {
    for (
      const message of [
        'not json',
        'null',
        '5',
        '"a"',
        '{}',
        '{"event_ids":"a"}',
        '{"event_ids":["a"],"tenants":"acme"}',
        '{"event_ids":["a","b"],"tenants":["acme"]}',
      ]
    ) {
      assert.equal(decodeApplied(message), undefined, message);
    }
    assert.deepEqual(decodeApplied('{"event_ids":["a",1,"c"],"tenants":["acme","acme",null]}'), [{ tenant: 'acme', eventId: 'a' }]);
  });
});
