/**
 * 6. SIGKILL of the producer service while the Deno edge gateway forwards to it under load; it is
 * started again 10 s later on the same port, as its supervisor would. The edge answers 503 with
 * Retry-After meanwhile and serves again by itself: it is not restarted.
 */
import type { Scenario } from '../scenario.ts';

export function producerServiceKill(): Scenario {
  return {
    id: '6',
    title: 'producer service SIGKILL (edge)',
    fault: 'SIGKILL of the producer service behind the Deno edge gateway; restarted 10 s later on its port',
    beforeS: 5,
    holdS: 10,
    afterS: 10,
    edge: true,
    recovery: 'writes',
    inject: async ({ producerService, log }) => {
      if (!producerService) throw new Error('scenario 6 needs the edge stack');
      log(`  killing the producer service ${producerService.proc.child.pid}`);
      await producerService.proc.stop('SIGKILL');
    },
    lift: async ({ producerService }) => {
      await producerService!.restart();
    },
  };
}
