import { createRequire } from 'node:module';
import { trace } from '@opentelemetry/api';

const require = createRequire(import.meta.url);

/**
 * `@opentelemetry/api` 1.10 ships a CommonJS and an ESM build, and Node loads
 * both: the SDK (CommonJS) registers its tracer provider through the CommonJS
 * copy's proxy, while a tracer our ESM code took before the SDK started — the
 * usual module-level `const tracer = trace.getTracer(...)` — hangs on the ESM
 * copy's proxy, whose delegate is never set, so its spans vanish. This moves the
 * registration to the ESM copy, whose proxy then delegates to the SDK's provider;
 * CommonJS callers still find it, the global slot being shared.
 *
 * Call right after the tracer provider is registered.
 */
export function bridgeEsmTracerProvider(): void {
  const cjs = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  // One copy (a bundle, or a CommonJS caller): nothing to bridge.
  if (cjs.trace === trace) return;
  const registered = cjs.trace.getTracerProvider();
  cjs.trace.disable();
  trace.setGlobalTracerProvider(registered);
}
