/** Worker metrics in Prometheus text, served on WORKER_METRICS_PORT. */
import { createServer, type Server } from 'node:http';
import client from 'prom-client';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

export const eventsConsumed = new client.Counter({
  name: 'ferry_worker_events_applied_total',
  help: 'Events applied to the sinks of a consumer group (read-model: PostgreSQL and Redis; analytics: ClickHouse)',
  labelNames: ['topic', 'group'],
  registers: [registry],
});
export const batchSeconds = new client.Histogram({
  name: 'ferry_worker_batch_seconds',
  help: 'Time to apply one partition batch to the sinks of a consumer group',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  labelNames: ['group'],
  registers: [registry],
});
export const batchWaitSeconds = new client.Histogram({
  name: 'ferry_worker_batch_wait_seconds',
  help:
    "Age of the oldest record of a batch when its apply starts: from the record's Kafka timestamp (set by the producer; clocks of other hosts may differ) to now. With ferry_worker_batch_seconds, where end-to-end time goes",
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  labelNames: ['group'],
  registers: [registry],
});
export const batchSize = new client.Histogram({
  name: 'ferry_worker_batch_size',
  help: 'Records in one partition batch',
  buckets: [1, 5, 10, 50, 100, 250, 500, 1000],
  labelNames: ['group'],
  registers: [registry],
});
export const batchFailures = new client.Counter({
  name: 'ferry_worker_batch_failures_total',
  help: 'Batches that failed and will be delivered again',
  labelNames: ['group'],
  registers: [registry],
});
export const deadLettered = new client.Counter({
  name: 'ferry_worker_dead_letters_total',
  help: 'Records moved to the dead-letter queue',
  labelNames: ['step'],
  registers: [registry],
});

export const retriesScheduled = new client.Counter({
  name: 'ferry_worker_retries_scheduled_total',
  help: 'Events scheduled for a BullMQ retry',
  labelNames: ['group'],
  registers: [registry],
});
export const sinkOutage = new client.Gauge({
  name: 'ferry_worker_sink_outage',
  help: '1 while a sink is unreachable and batches are held',
  labelNames: ['group'],
  registers: [registry],
});

export const partitionLag = new client.Gauge({
  name: 'ferry_worker_partition_lag',
  help: 'Records in the partition not yet consumed, as of the last batch',
  labelNames: ['topic', 'partition', 'group'],
  registers: [registry],
});
export const partitionStalls = new client.Counter({
  name: 'ferry_worker_partition_stalls_total',
  help: 'Partitions librdkafka stopped fetching while records waited, found and restarted by the consumer',
  labelNames: ['topic', 'partition', 'group'],
  registers: [registry],
});
export const inFlight = new client.Gauge({
  name: 'ferry_worker_in_flight_events',
  help: 'Records being applied right now',
  labelNames: ['group'],
  registers: [registry],
});
export const sinkSeconds = new client.Histogram({
  name: 'ferry_worker_sink_write_seconds',
  help: 'Time of one batched sink write',
  labelNames: ['sink'],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});
export const sinkBatchSize = new client.Histogram({
  name: 'ferry_worker_sink_batch_size',
  help: 'Events in one batched sink write',
  labelNames: ['sink'],
  buckets: [1, 5, 10, 50, 100, 250, 500, 1000],
  registers: [registry],
});

export function serveMetrics(port: number, health: () => unknown): Server {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      }, () => {
        res.writeHead(500);
        res.end();
      });
    } else if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(health()));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  server.listen(port, '127.0.0.1');
  return server;
}
