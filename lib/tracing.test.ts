import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { trace, TraceFlags } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { formatTraceparent, inSinkSpan, parseTraceparent, startRequestSpan, traceHeaders, traceIdOf, tracing, useTracer } from './tracing.ts';
import { tracingConfigured } from './tracing-sdk.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const VALID = `00-${TRACE}-${SPAN}-01`;

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const validTraceparent = fc
  .tuple(hex(32), hex(16), hex(2))
  .filter(([t, s]) => !/^0+$/.test(t) && !/^0+$/.test(s))
  .map(([t, s, f]) => `00-${t}-${s}-${f}`);

test('a valid traceparent parses into its parts', () => {
  assert.deepEqual(parseTraceparent(VALID), { traceId: TRACE, spanId: SPAN, traceFlags: TraceFlags.SAMPLED, isRemote: true });
  assert.equal(parseTraceparent(`00-${TRACE}-${SPAN}-00`)?.traceFlags, TraceFlags.NONE);
});

test('invalid traceparents are refused', () => {
  for (
    const bad of [
      undefined,
      null,
      '',
      'garbage',
      `00-${TRACE}-${SPAN}-1`, // short flags
      `00-${TRACE.toUpperCase()}-${SPAN}-01`, // upper-case hex
      `00-${'0'.repeat(32)}-${SPAN}-01`, // zero trace id
      `00-${TRACE}-${'0'.repeat(16)}-01`, // zero span id
      `ff-${TRACE}-${SPAN}-01`, // forbidden version
      `00-${TRACE}-${SPAN}-01-extra`, // version 00 has four fields
      `01-${TRACE}-${SPAN}-01extra`, // later fields need a dash
      `00_${TRACE}_${SPAN}_01`,
      `00-${TRACE}-${SPAN}-0g`,
      `00-${TRACE}-${SPAN}-01` + 'x'.repeat(600),
    ]
  ) {
    assert.equal(parseTraceparent(bad), undefined, String(bad));
  }
});

test('a later version is read by its first four fields', () => {
  assert.equal(parseTraceparent(`01-${TRACE}-${SPAN}-01-what-comes-next`)?.traceId, TRACE);
  assert.equal(parseTraceparent(`cc-${TRACE}-${SPAN}-01`)?.spanId, SPAN);
});

test('random strings never throw, and what parses formats to a valid traceparent', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.string({ unit: 'binary' }), validTraceparent.map((v) => v + '-x'), fc.constant(VALID)),
      fc.option(fc.string()),
      (s, state) => {
        const parsed = parseTraceparent(s, state);
        if (parsed) assert.ok(parseTraceparent(formatTraceparent(parsed)));
      },
    ),
    { numRuns: 2000 },
  );
});

test('valid traceparents round-trip', () => {
  fc.assert(
    fc.property(validTraceparent, (s) => {
      assert.equal(formatTraceparent(parseTraceparent(s)!), s);
    }),
  );
});

test('tracestate is kept when valid and dropped when not', () => {
  assert.equal(parseTraceparent(VALID, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7')?.traceState?.serialize(), 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
  assert.equal(parseTraceparent(VALID, 'not a tracestate')?.traceState, undefined);
  assert.equal(parseTraceparent(VALID, 'a=b'.padEnd(600, 'c'))?.traceState, undefined);
  assert.deepEqual(traceHeaders(parseTraceparent(VALID, 'rojo=1')!), { traceparent: VALID, tracestate: 'rojo=1' });
  assert.deepEqual(traceHeaders(parseTraceparent(VALID)!), { traceparent: VALID });
});

test('traceIdOf reads a record’s headers', () => {
  assert.equal(traceIdOf({ traceparent: VALID }), TRACE);
  assert.equal(traceIdOf({ traceparent: 'nope' }), undefined);
  assert.equal(traceIdOf(undefined), undefined);
});

test('without the SDK a request span continues the trace with a new span id, or starts a sampled one', () => {
  assert.equal(tracing(), false);
  const continued = startRequestSpan('POST', VALID, 'rojo=1').spanContext();
  assert.equal(continued.traceId, TRACE);
  assert.match(continued.spanId, /^[0-9a-f]{16}$/);
  assert.notEqual(continued.spanId, SPAN);
  assert.equal(continued.traceFlags, TraceFlags.SAMPLED);
  assert.equal(continued.traceState?.serialize(), 'rojo=1');
  assert.equal(startRequestSpan('POST', `00-${TRACE}-${SPAN}-00`, undefined).spanContext().traceFlags, TraceFlags.NONE, 'the client’s decision stands');

  const fresh = startRequestSpan('POST', 'invalid', undefined).spanContext();
  assert.match(fresh.traceId, /^[0-9a-f]{32}$/);
  assert.notEqual(fresh.traceId, TRACE);
  assert.equal(fresh.traceFlags, TraceFlags.SAMPLED);
  assert.equal(trace.getTracerProvider().getTracer('x').startSpan('y').isRecording(), false, 'nothing registered a provider');
});

test('without the SDK a sink write runs as is', async () => {
  assert.equal(await inSinkSpan('postgres', [{ traceparent: VALID }], {}, async () => 42), 42);
  await assert.rejects(inSinkSpan('postgres', [], {}, async () => Promise.reject(new Error('boom'))), /boom/);
});

test('tracing is configured by the OTLP endpoint or exporter variables', () => {
  assert.equal(tracingConfigured({}), false);
  assert.equal(tracingConfigured({ OTEL_SERVICE_NAME: 'x' }), false);
  assert.equal(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), true);
  assert.equal(tracingConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }), true);
  assert.equal(tracingConfigured({ OTEL_TRACES_EXPORTER: 'otlp' }), true);
  assert.equal(tracingConfigured({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x' }), false);
  assert.equal(tracingConfigured({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x' }), false);
});

test('with a tracer, a sink span is the child of one shared context, else linked to each; errors keep their message out', async () => {
  const exporter = new InMemorySpanExporter();
  useTracer(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('test'));
  try {
    const request = startRequestSpan('POST /v1/events/{topic}', VALID, undefined);
    assert.equal(request.spanContext().traceId, TRACE);
    request.end();
    const produced = traceHeaders(request.spanContext()).traceparent!;
    await inSinkSpan('postgres', [{ traceparent: produced }, { traceparent: produced }], { 'db.system.name': 'postgresql' }, async () => {});
    const other = `00-${'1'.repeat(32)}-${SPAN}-01`;
    await inSinkSpan('clickhouse', [{ traceparent: produced }, { traceparent: other }, { traceparent: 'bad' }, {}], {}, async () => {});
    await assert.rejects(
      inSinkSpan('redis', [{ traceparent: produced }], {}, async () => Promise.reject(Object.assign(new Error('value 123 refused'), { code: 'E1' }))),
    );
    const [req, pg, ch, redis] = exporter.getFinishedSpans();
    assert.equal(req!.parentSpanContext?.spanId, SPAN);
    assert.equal(pg!.spanContext().traceId, TRACE);
    assert.equal(pg!.parentSpanContext?.spanId, request.spanContext().spanId);
    assert.equal(pg!.attributes['ferry.events'], 2);
    assert.equal(ch!.parentSpanContext, undefined);
    assert.deepEqual(ch!.links.map((l) => l.context.traceId).sort(), ['1'.repeat(32), TRACE]);
    assert.equal(redis!.status.code, 2);
    assert.equal(redis!.status.message, undefined);
    assert.equal(redis!.attributes['error.type'], 'E1');
  } finally {
    useTracer(undefined);
  }
});
