/**
 * Starts the OpenTelemetry trace SDK with the OTLP/HTTP (JSON) exporter, for Node processes, and
 * only when configured: OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
 * OTEL_TRACES_EXPORTER=otlp. Otherwise nothing is loaded and lib/tracing.ts records nothing.
 * The exporter reads the other OTEL_EXPORTER_OTLP_* variables (headers, timeout) itself, and
 * the batch processor OTEL_BSP_*.
 */
import { diag, DiagLogLevel, trace } from '@opentelemetry/api';
import type { LogSink } from './log-sink.ts';
import { useTracer } from './tracing.ts';

/** True when the environment asks for traces to be exported. */
export function tracingConfigured(env: Record<string, string | undefined> = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((e) => e.trim().toLowerCase());
  if (exporters.includes('none')) return false;
  return exporters.includes('otlp') || Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()) || Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

export interface Tracing {
  /** Exports what is buffered, then stops. */
  shutdown(): Promise<void>;
}

/**
 * Starts the SDK when tracingConfigured(); `serviceName` unless OTEL_SERVICE_NAME (or
 * OTEL_RESOURCE_ATTRIBUTES) names the service. Exporter failures are logged as warnings.
 */
export async function startTracing(serviceName: string, logger: LogSink, env: Record<string, string | undefined> = process.env): Promise<Tracing | undefined> {
  if (!tracingConfigured(env)) return undefined;
  // Loaded only here, so an untraced process never loads the SDK.
  const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { defaultResource, detectResources, envDetector, resourceFromAttributes }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
    ]);
  diag.setLogger(
    {
      error: (message) => logger.warn({ otel: message }, 'tracing'),
      warn: (message) => logger.warn({ otel: message }, 'tracing'),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.WARN,
  );
  // Later merges win: the environment's service name over the default.
  const resource = defaultResource().merge(resourceFromAttributes({ 'service.name': serviceName })).merge(detectResources({ detectors: [envDetector] }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())] });
  trace.setGlobalTracerProvider(provider);
  useTracer(provider.getTracer('ferry'));
  logger.info({ service: resource.attributes['service.name'] }, 'tracing: exporting spans over OTLP/HTTP');
  return {
    shutdown: async () => {
      useTracer(undefined);
      await provider.shutdown().catch((err: Error) => logger.warn({ err: err.message }, 'tracing: flushing spans failed'));
    },
  };
}
