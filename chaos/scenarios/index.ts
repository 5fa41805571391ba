/** Every scenario, in the order; each call makes fresh state. */
import type { Scenario } from '../scenario.ts';
import { brokerPause } from './kafka-broker-pause.ts';
import { belowMinIsr } from './kafka-below-min-isr.ts';
import { kafkaDown } from './kafka-all-down.ts';
import { leaderKill } from './kafka-leader-kill.ts';
import { gatewayKill } from './gateway-kill.ts';
import { producerServiceKill } from './producer-service-kill.ts';
import { storeOutages } from './store-outages.ts';
import { workerKafkaCut } from './worker-kafka-cut.ts';
import { workerKill } from './worker-kill.ts';

export function allScenarios(): Scenario[] {
  return [leaderKill(), brokerPause(), belowMinIsr(), kafkaDown(), gatewayKill(), producerServiceKill(), workerKill(), ...storeOutages(), workerKafkaCut()];
}
