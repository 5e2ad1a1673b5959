import { describe, expect, it } from 'vitest';
import { otlpTracesEndpoint } from '../src/start-telemetry.js';

describe('otlpTracesEndpoint', () => {
  it('appends /v1/traces to the general endpoint', () => {
    expect(otlpTracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(
      'http://collector:4318/v1/traces',
    );
    expect(otlpTracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toBe(
      'http://collector:4318/v1/traces',
    );
  });

  it('uses the traces endpoint as given, in preference to the general one', () => {
    expect(
      otlpTracesEndpoint({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:9999/custom',
      }),
    ).toBe('http://b:9999/custom');
  });

  it('is undefined when nothing is set, blank, or the traces exporter is none', () => {
    expect(otlpTracesEndpoint({})).toBeUndefined();
    expect(otlpTracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBeUndefined();
    expect(
      otlpTracesEndpoint({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318',
        OTEL_TRACES_EXPORTER: 'none',
      }),
    ).toBeUndefined();
  });
});
