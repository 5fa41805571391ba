import { type Logger, pino } from 'pino';

/**
 * Structured JSON logs. Never log payloads or credentials: log ids, topics, partitions, offsets.
 */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name,
    level,
    // The redact list is a safety net; the rule is still not to pass payloads to the logger.
    redact: ['authorization', 'headers.authorization', 'password', 'apiKey', 'payload', 'value'],
  });
}

export type { Logger };
