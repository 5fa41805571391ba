/**
 * The logging that code shared with runtimes without pino needs (a pino Logger is a LogSink),
 * and a pino-free one for those runtimes. No imports: Deno loads this without pino, which would
 * need --allow-sys to read the hostname.
 */

export interface LogSink {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** JSON lines on stderr, shaped like pino's (level numbers, time, name, msg). */
export function jsonLogSink(name: string): LogSink {
  const line = (level: number, obj: object, msg?: string) => console.error(JSON.stringify({ level, time: Date.now(), name, ...obj, ...(msg ? { msg } : {}) }));
  return { debug: (o, m) => line(20, o, m), info: (o, m) => line(30, o, m), warn: (o, m) => line(40, o, m) };
}
