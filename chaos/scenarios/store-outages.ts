/**
 * 8. A store behind the workers goes away for 30 s: PostgreSQL, ClickHouse and the cache Redis are
 * the machine's shared instances, so the workers reach them through a proxy the runner cuts; the
 * queue Redis is one of the run's own and is SIGKILLed. 9. PostgreSQL made slow by the proxy.
 */
import { type FaultProxy, faultProxy } from '../../support/fault-proxy.ts';
import { type PersistentRedis, startPersistentRedis } from '../../support/persistent-redis.ts';
import type { Scenario } from '../scenario.ts';

type Store = 'DATABASE_URL' | 'CLICKHOUSE_URL' | 'REDIS_URL';

function proxied(id: string, title: string, store: Store, mode: 'cut' | 'slow'): Scenario {
  let proxy: FaultProxy | undefined;
  let url = '';
  const slow = mode === 'slow';
  return {
    id,
    title,
    fault: slow
      ? 'every PostgreSQL packet of the workers delayed 200 ms for 30 s (TCP proxy)'
      : `the workers' path to ${title.split(' ')[0]} cut for 30 s (TCP proxy)`,
    beforeS: 5,
    holdS: 30,
    afterS: 5,
    recovery: 'drain',
    setup: async ({ iso }) => {
      url = iso.env[store]!;
      proxy = await faultProxy(Number(new URL(url).port));
    },
    workerEnv: () => ({ [store]: proxy!.via(url) }),
    inject: async () => (slow ? proxy!.setDelay(200) : proxy!.cut()),
    lift: async () => (slow ? proxy!.setDelay(0) : proxy!.restore()),
    teardown: async () => proxy?.close(),
  };
}

function queueRedisKill(): Scenario {
  let redis: PersistentRedis | undefined;
  return {
    id: '8d',
    title: 'queue Redis SIGKILL',
    fault: "SIGKILL of the workers' queue Redis (appendonly, the run's own); restarted 10 s later",
    beforeS: 5,
    holdS: 10,
    afterS: 5,
    recovery: 'drain',
    setup: async () => {
      redis = await startPersistentRedis();
    },
    workerEnv: () => ({ QUEUE_REDIS_URL: redis!.url }),
    inject: () => redis!.kill(),
    lift: () => redis!.restart(),
    teardown: async () => {
      await redis?.remove();
    },
  };
}

export function storeOutages(): Scenario[] {
  return [
    proxied('8a', 'PostgreSQL down 30 s', 'DATABASE_URL', 'cut'),
    proxied('8b', 'ClickHouse down 30 s', 'CLICKHOUSE_URL', 'cut'),
    proxied('8c', 'cache Redis down 30 s', 'REDIS_URL', 'cut'),
    queueRedisKill(),
    proxied('9', 'PostgreSQL slow (200 ms a packet)', 'DATABASE_URL', 'slow'),
  ];
}
