// A tracer taken at module load, before telemetry starts, as agent code does.
// With @opentelemetry/api loaded as both ESM (here) and CommonJS (the SDK), its
// spans were lost until startTelemetry bridged the two copies' proxies.
// Its own file: the bridge holds for the first telemetry of a process only.
import { trace } from '@opentelemetry/api';
import { expect, it } from 'vitest';
import { startTelemetry } from '../src/start-telemetry.js';

const moduleLevelTracer = trace.getTracer('module-level');

it('records spans from a tracer taken before startTelemetry', async () => {
  const telemetry = await startTelemetry({
    serviceName: 'bridge-test',
    cluster: 'c1',
    nodeId: 'n1',
    host: 'h1',
    env: {},
  });
  try {
    moduleLevelTracer.startSpan('early-tracer').end();
    trace.getTracer('late').startSpan('late-tracer').end();
    expect(telemetry.recentSpans().map((s) => s.name)).toEqual(['early-tracer', 'late-tracer']);
  } finally {
    await telemetry.shutdown();
  }
});
