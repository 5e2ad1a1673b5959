// Trace context across a real nats-server: the publisher's span context rides in
// the message headers and the receiver's span continues the same trace as its child.
import {
  publishTraced,
  requestTraced,
  startTelemetry,
  type Telemetry,
  withConsumerSpan,
  withSpan,
} from '@coxswain/telemetry';
import { NatsServer, pollUntil } from '@coxswain/testkit';
import { connect, headers, type Msg, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bytes = (s: string) => new TextEncoder().encode(s);

let ns: NatsServer;
let publisher: NatsConnection;
let receiver: NatsConnection;
let telemetry: Telemetry;

beforeAll(async () => {
  ns = await NatsServer.start();
  // Two connections, as two agents would have: the context must cross the server.
  publisher = await connect({ servers: ns.url, name: 'publisher' });
  receiver = await connect({ servers: ns.url, name: 'receiver' });
  telemetry = await startTelemetry({
    serviceName: 'coxswain-agent',
    cluster: 'nats-test',
    nodeId: 'n1',
    host: 'host-1',
    env: {},
  });
});

afterAll(async () => {
  await telemetry?.shutdown();
  await publisher?.close();
  await receiver?.close();
  await ns?.stop();
});

/** Subscribes and hands the first message to `handle` inside a consumer span. */
function receiveOne(
  subject: string,
  handle: (msg: Msg) => Promise<void> | void = () => {},
): Promise<Msg> {
  const sub = receiver.subscribe(subject, { max: 1 });
  return (async () => {
    for await (const msg of sub) {
      await withConsumerSpan(msg, `process ${subject}`, () => handle(msg));
      return msg;
    }
    throw new Error(`subscription to ${subject} ended without a message`);
  })();
}

function spansNamed(name: string) {
  return telemetry.recentSpans().filter((s) => s.name === name);
}

describe('NATS trace-context propagation', () => {
  it('a published message carries traceparent and the consumer span is its child', async () => {
    const subject = 'cox.nats-test.report.n1';
    const received = receiveOne(subject);
    await receiver.flush();

    publishTraced(publisher, subject, bytes('{"hello":1}'));
    const msg = await received;

    const [producer] = spansNamed(`publish ${subject}`);
    const [consumer] = spansNamed(`process ${subject}`);
    expect(producer).toBeDefined();
    expect(consumer).toBeDefined();
    expect(msg.headers?.get('traceparent')).toBe(`00-${producer?.traceId}-${producer?.spanId}-01`);
    expect(consumer?.traceId).toBe(producer?.traceId);
    expect(consumer?.parentSpanId).toBe(producer?.spanId);
    expect(producer?.kind).toBe('producer');
    expect(consumer?.kind).toBe('consumer');
    expect(producer?.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.destination.name': subject,
      'messaging.operation.type': 'send',
      'messaging.message.body.size': 11,
    });
    expect(consumer?.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.destination.name': subject,
      'messaging.operation.type': 'process',
    });
  });

  it('one trace runs from an active span through publish to the receiver’s own child spans', async () => {
    const subject = 'cox.nats-test.events';
    const received = receiveOne(subject, async () => {
      await withSpan(telemetry.tracer, 'apply-event', {}, async () => {});
    });
    await receiver.flush();

    await withSpan(telemetry.tracer, 'report-tick', {}, async () => {
      publishTraced(publisher, subject, bytes('x'));
    });
    await received;

    const [tick] = spansNamed('report-tick');
    const [producer] = spansNamed(`publish ${subject}`);
    const [consumer] = spansNamed(`process ${subject}`);
    const [apply] = spansNamed('apply-event');
    expect(new Set([tick, producer, consumer, apply].map((s) => s?.traceId)).size).toBe(1);
    expect(producer?.parentSpanId).toBe(tick?.spanId);
    expect(consumer?.parentSpanId).toBe(producer?.spanId);
    expect(apply?.parentSpanId).toBe(consumer?.spanId);
  });

  it('keeps headers the caller set and adds the trace context to them', async () => {
    const subject = 'cox.nats-test.with-headers';
    const received = receiveOne(subject);
    await receiver.flush();
    const h = headers();
    h.set('coxswain-command-id', 'cmd-42');
    publishTraced(publisher, subject, bytes('x'), { headers: h });
    const msg = await received;
    expect(msg.headers?.get('coxswain-command-id')).toBe('cmd-42');
    expect(msg.headers?.get('traceparent')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('request/reply: a CLIENT span, a SERVER span as its child, and the reply arrives', async () => {
    const subject = 'cox.nats-test.cmd.n1';
    const sub = receiver.subscribe(subject, { max: 1 });
    const served = (async () => {
      for await (const msg of sub) {
        await withConsumerSpan(msg, `process ${subject}`, async () => {
          await withSpan(telemetry.tracer, 'execute', {}, async () => {});
          msg.respond(bytes('done'));
        });
      }
    })();
    await receiver.flush();

    const reply = await requestTraced(publisher, subject, bytes('scale'), { timeout: 5_000 });
    await served;
    expect(new TextDecoder().decode(reply.data)).toBe('done');

    const [client] = spansNamed(`send ${subject}`);
    const [server] = spansNamed(`process ${subject}`);
    const [execute] = spansNamed('execute');
    expect(client?.kind).toBe('client');
    expect(server?.kind).toBe('server');
    expect(server?.traceId).toBe(client?.traceId);
    expect(server?.parentSpanId).toBe(client?.spanId);
    expect(execute?.parentSpanId).toBe(server?.spanId);
    expect(client?.status.code).toBe('unset');
  });

  it('a failed request (no responders) rejects and marks the CLIENT span as an error', async () => {
    const subject = 'cox.nats-test.nobody-home';
    await expect(
      requestTraced(publisher, subject, bytes('x'), { timeout: 1_000 }),
    ).rejects.toThrow();
    const [client] = spansNamed(`send ${subject}`);
    expect(client?.status.code).toBe('error');
    expect(client?.events.map((e) => e.name)).toContain('exception');
  });

  it('a message without trace headers starts a new trace on the receiving side', async () => {
    const subject = 'cox.nats-test.untraced';
    const received = receiveOne(subject);
    await receiver.flush();
    publisher.publish(subject, bytes('plain'));
    await received;
    await pollUntil('the consumer span', () => spansNamed(`process ${subject}`)[0], 5_000);
    const [consumer] = spansNamed(`process ${subject}`);
    expect(consumer?.parentSpanId).toBeUndefined();
    expect(consumer?.traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('a malformed traceparent is ignored: the receiver starts a new trace and goes on', async () => {
    const subject = 'cox.nats-test.garbage';
    const received = receiveOne(subject);
    await receiver.flush();
    const h = headers();
    h.set('traceparent', '00-not-a-trace-id-01');
    publisher.publish(subject, bytes('x'), { headers: h });
    await received;
    const [consumer] = spansNamed(`process ${subject}`);
    expect(consumer?.parentSpanId).toBeUndefined();
    expect(consumer?.traceId).toMatch(/^[0-9a-f]{32}$/);
  });
});
