/**
 * The dry run's promise: a count of what an action would take, under a token the action must
 * bring back with the same selection and the same count. Kept in the queue Redis for a few
 * minutes (so any dashboard process may take the action) and used once.
 */
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { Selection } from './letter-actions.ts';

export const CONFIRM_TTL_SECONDS = 300;

export class ConfirmationError extends Error {}

interface Promised {
  action: string;
  selection: Selection;
  count: number;
}

/** Same terms, in any key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${
      Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort().map((k) =>
        `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`
      ).join(',')
    }}`;
  }
  return JSON.stringify(value);
}

export class Confirmations {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {}

  async promise(action: string, selection: Selection, count: number): Promise<string> {
    const token = randomBytes(18).toString('base64url');
    await this.redis.set(`${this.prefix}${token}`, canonical({ action, selection, count }), 'EX', CONFIRM_TTL_SECONDS);
    return token;
  }

  /** Takes the token (once); throws unless it was given for this action, selection and count. */
  async redeem(token: unknown, action: string, selection: Selection, count: unknown): Promise<number> {
    if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{10,64}$/.test(token)) throw new ConfirmationError('run the dry run first and send its token');
    const stored = await this.redis.getdel(`${this.prefix}${token}`);
    if (!stored) throw new ConfirmationError('the confirmation token is unknown, used or expired: run the dry run again');
    const promised = JSON.parse(stored) as Promised;
    if (canonical({ action, selection, count: promised.count }) !== stored) throw new ConfirmationError('the token was given for another action or selection');
    if (count !== promised.count) throw new ConfirmationError(`the dry run counted ${promised.count}; confirm that count`);
    return promised.count;
  }
}
