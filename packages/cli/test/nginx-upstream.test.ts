import type { EndpointsReply } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { parseIntervalMs, renderEndpoints } from '../src/commands/endpoints.js';
import {
  NO_ENDPOINTS_PLACEHOLDER,
  renderNginxUpstream,
  upstreamName,
} from '../src/commands/nginx-upstream.js';

describe('renderNginxUpstream', () => {
  it('renders one server line per endpoint, sorted and deduplicated', () => {
    const text = renderNginxUpstream('web', [
      { address: '10.0.0.12', port: 32769 },
      { address: '10.0.0.11', port: 32768 },
      { address: '10.0.0.12', port: 32769 },
    ]);
    expect(text).toBe(
      [
        '# coxswain endpoints web: 2 replicas',
        'upstream web {',
        '  server 10.0.0.11:32768;',
        '  server 10.0.0.12:32769;',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('gives the same text whatever the order, so a watcher reloads only on a real change', () => {
    const a = [
      { address: '10.0.0.11', port: 1000 },
      { address: '10.0.0.12', port: 2000 },
    ];
    expect(renderNginxUpstream('web', a)).toBe(renderNginxUpstream('web', [...a].reverse()));
  });

  it('keeps an empty service a valid upstream: one server marked down', () => {
    const text = renderNginxUpstream('web', []);
    expect(text).toContain('# coxswain endpoints web: 0 replicas');
    expect(text).toContain(`  server ${NO_ENDPOINTS_PLACEHOLDER} down;`);
    expect(text.match(/server /g)).toHaveLength(1);
  });

  it('uses a given upstream name and extra lines, and sanitises names nginx would reject', () => {
    const text = renderNginxUpstream('web', [{ address: '[::1]', port: 8080 }], {
      name: 'web backend',
      extraLines: ['keepalive 16;'],
    });
    expect(text).toContain('upstream web_backend {');
    expect(text).toContain('  server [::1]:8080;\n  keepalive 16;\n}');
    expect(upstreamName('a.b-c_d')).toBe('a.b-c_d');
    expect(upstreamName('x;y{z}')).toBe('x_y_z_');
  });
});

describe('renderEndpoints', () => {
  const reply = (appliedIndex: number): EndpointsReply => ({
    meta: {
      node: 'n1',
      appliedIndex,
      leader: 'n1',
      term: 1,
      consistent: false,
      sinceLastApplyMs: 0,
      sinceLeaderContactMs: 0,
    },
    service: 'web',
    containerPort: 8080,
    endpoints: [{ node: 'n1', container: 'web-1', address: '10.0.0.11', port: 32768 }],
  });

  it('leaves the applied index out of JSON, so a file changes only with the endpoints', () => {
    expect(renderEndpoints(reply(5), 'json')).toBe(renderEndpoints(reply(9), 'json'));
    expect(JSON.parse(renderEndpoints(reply(5), 'json'))).toEqual({
      service: 'web',
      containerPort: 8080,
      endpoints: [{ node: 'n1', container: 'web-1', address: '10.0.0.11', port: 32768 }],
    });
  });

  it('renders nginx with the upstream name given', () => {
    expect(renderEndpoints(reply(5), 'nginx', 'api')).toContain(
      'upstream api {\n  server 10.0.0.11:32768;',
    );
  });
});

describe('parseIntervalMs', () => {
  it('reads durations and refuses typos and too-short periods', () => {
    expect(parseIntervalMs('2s')).toBe(2000);
    expect(parseIntervalMs('500ms')).toBe(500);
    expect(parseIntervalMs('1m')).toBe(60_000);
    expect(parseIntervalMs('3')).toBe(3000);
    expect(() => parseIntervalMs('2 seconds')).toThrow(/duration/);
    expect(() => parseIntervalMs('10ms')).toThrow(/at least 100ms/);
  });
});
