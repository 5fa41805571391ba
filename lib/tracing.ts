/**
 * W3C trace context for the gateway and the workers, on the OpenTelemetry API only. The SDK and
 * its exporter are started by lib/tracing-sdk.ts (Node, when configured); until then there is
 * no tracer here and every function below costs a few random bytes or nothing, so the Deno
 * gateway and untraced deployments still answer and forward a traceparent.
 *
 * Propagation: the gateway answers and produces with the traceparent of its request span (one
 * per request, so every event of a batch carries the same one); a worker makes one span per
 * sink call, the child of the events' context when they share one, else linked to each.
 */
import {
  type Attributes,
  createTraceState,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer,
} from '@opentelemetry/api';
import { TRACEPARENT_HEADER } from './contract.ts';
import { randomHex } from './random-hex.ts';

export { TRACEPARENT_HEADER };

/** Vendor trace state, passed along with the traceparent when it is valid. */
export const TRACESTATE_HEADER = 'tracestate';

// version-traceid-parentid-flags, lower-case hex; later versions may append `-...` fields.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
/** W3C: vendors need not pass on more than 512 characters of tracestate. */
const MAX_TRACESTATE = 512;
/** Links on one sink span (the SDK's default limit). */
const MAX_LINKS = 128;

/** The context a traceparent (and tracestate) names, or undefined for anything that is not a valid one. */
export function parseTraceparent(traceparent: string | null | undefined, tracestate?: string | null): SpanContext | undefined {
  if (typeof traceparent !== 'string' || traceparent.length < 55 || traceparent.length > 512) return undefined;
  const m = TRACEPARENT.exec(traceparent.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  // ff is forbidden; version 00 has exactly four fields.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  const context: SpanContext = { traceId, spanId, traceFlags: parseInt(flags, 16), isRemote: true };
  if (typeof tracestate === 'string' && tracestate.length > 0 && tracestate.length <= MAX_TRACESTATE) {
    const state = createTraceState(tracestate);
    if (state.serialize() !== '') context.traceState = state;
  }
  return context;
}

/** The version-00 traceparent of a span context. */
export function formatTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The trace id of a record's or request's headers, for log lines; undefined without a valid traceparent. */
export function traceIdOf(headers: Record<string, string> | undefined): string | undefined {
  const value = headers?.[TRACEPARENT_HEADER];
  return value === undefined ? undefined : parseTraceparent(value)?.traceId;
}

/** The headers that carry a span's context: traceparent, and tracestate when there is one. */
export function traceHeaders(context: SpanContext): Record<string, string> {
  const state = context.traceState?.serialize();
  return state ? { [TRACEPARENT_HEADER]: formatTraceparent(context), [TRACESTATE_HEADER]: state } : { [TRACEPARENT_HEADER]: formatTraceparent(context) };
}

let tracer: Tracer | undefined;

/** Sets the tracer spans are recorded with (lib/tracing-sdk.ts); undefined turns recording off. */
export function useTracer(t: Tracer | undefined): void {
  tracer = t;
}

/** True when spans are recorded and exported. */
export function tracing(): boolean {
  return tracer !== undefined;
}

/**
 * The span of one incoming request, continuing the client's trace when it sent a valid
 * traceparent and starting one otherwise. Without a tracer it records nothing but still has a
 * new span id, so the answer and the records name this hop; a trace started here is marked
 * sampled, as the SDK's default sampler would, so workers that export record it.
 */
export function startRequestSpan(name: string, traceparent: string | null | undefined, tracestate: string | null | undefined, attributes?: Attributes): Span {
  const parent = parseTraceparent(traceparent, tracestate);
  if (tracer) return tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT);
  return trace.wrapSpanContext({
    traceId: parent?.traceId ?? randomHex(16),
    spanId: randomHex(8),
    traceFlags: parent ? parent.traceFlags : TraceFlags.SAMPLED,
    ...(parent?.traceState ? { traceState: parent.traceState } : {}),
  });
}

/** What a traced event carries (lib/event.ts ConsumedEvent): its record's trace headers. */
export interface Traced {
  traceparent?: string;
  tracestate?: string;
}

/**
 * Runs one sink write in a span: the child of its events' context when they all share one
 * (one request's events), else a new root linked to each distinct context. One span per call
 * rather than per event: a batch is one statement, and a span per event would multiply the
 * export by the batch size. Errors set the status with the error's code or name only: sink
 * messages may quote the data.
 */
export async function inSinkSpan<T>(name: string, events: readonly Traced[], attributes: Attributes, write: () => Promise<T>): Promise<T> {
  if (!tracer) return write();
  const contexts = new Map<string, SpanContext>();
  for (const e of events) {
    if (e.traceparent === undefined || contexts.has(e.traceparent)) continue;
    const context = parseTraceparent(e.traceparent, e.tracestate);
    if (context) contexts.set(e.traceparent, context);
  }
  const only = contexts.size === 1 ? [...contexts.values()][0]! : undefined;
  const links: Link[] = only ? [] : [...contexts.values()].slice(0, MAX_LINKS).map((context) => ({ context }));
  const span = tracer.startSpan(
    name,
    { kind: SpanKind.CLIENT, attributes: { ...attributes, 'ferry.events': events.length, 'ferry.traces': contexts.size }, links },
    only ? trace.setSpanContext(ROOT_CONTEXT, only) : ROOT_CONTEXT,
  );
  try {
    return await write();
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.setAttribute('error.type', errorType(err));
    throw err;
  } finally {
    span.end();
  }
}

/** A code or class name for an error, never its message. */
export function errorType(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' || typeof code === 'number') return String(code);
  return (err as Error | null)?.name ?? 'Error';
}
