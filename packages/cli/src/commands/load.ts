/**
 * `coxswain load URL`: open-model load (Poisson arrivals) whose rate follows a shape
 * (`--shape constant|ramp|step|spike|sine`) or a request trace replayed faster (`--trace FILE
 * --speedup K`), under a bound on requests in flight (`--concurrency`; an arrival that finds it full
 * is dropped and counted). A live progress line on stderr, a summary (or `--json`) on stdout.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { parsePositive, readTrace } from './forecast.js';
import {
  maxRateOf,
  parseShape,
  type RateAt,
  type Shape,
  shapeRate,
  traceRate,
  traceSeconds,
} from './load-rate.js';
import { type LoadSummary, runLoad, seededRandom } from './load-run.js';

interface LoadFlags {
  method: string;
  shape: Shape;
  rate: number;
  peak?: number;
  period: number;
  duration?: number;
  trace?: string;
  speedup: number;
  scale: number;
  concurrency: number;
  timeout: number;
  seed?: number;
  json?: boolean;
}

const ms = (n: number) => `${n.toFixed(1)}ms`;

export function progressLine(s: LoadSummary): string {
  return (
    `t=${s.elapsedSeconds.toFixed(0)}s sent=${s.sent} rate=${s.achievedRate.toFixed(1)}/s ` +
    `offered=${s.offeredRate.toFixed(1)}/s ok=${s.ok} errors=${s.errors} dropped=${s.dropped} ` +
    `inflight=${s.inFlight} p50=${ms(s.p50Ms)} p95=${ms(s.p95Ms)} p99=${ms(s.p99Ms)}`
  );
}

export function renderSummary(s: LoadSummary): string {
  return [
    `duration   ${s.elapsedSeconds.toFixed(1)} s`,
    `arrivals   ${s.arrivals} (${(s.arrivals / s.elapsedSeconds).toFixed(1)}/s)`,
    `sent       ${s.sent} (${s.achievedRate.toFixed(1)}/s)`,
    `ok         ${s.ok}`,
    `errors     ${s.errors}`,
    `dropped    ${s.dropped} (at the concurrency bound)`,
    `latency    p50 ${ms(s.p50Ms)}  p95 ${ms(s.p95Ms)}  p99 ${ms(s.p99Ms)}  max ${ms(s.maxMs)}`,
  ].join('\n');
}

function parseCount(name: string) {
  return (text: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${name} must be a whole number >= 1, got ${text}`);
    return n;
  };
}

function rateOf(flags: LoadFlags): { rate: RateAt; durationSeconds: number; maxRate: number } {
  if (flags.trace !== undefined) {
    const trace = readTrace(flags.trace);
    const durationSeconds = flags.duration ?? traceSeconds(trace, flags.speedup);
    const peak = Math.max(0, ...trace.counts);
    return {
      rate: traceRate(trace, flags.speedup, flags.scale),
      durationSeconds,
      maxRate: (peak / trace.stepSeconds) * flags.speedup * flags.scale * 1.0001,
    };
  }
  const durationSeconds = flags.duration ?? 30;
  const rate = shapeRate(flags.shape, {
    rate: flags.rate,
    peak: flags.peak ?? flags.rate * 2,
    durationSeconds,
    periodSeconds: flags.period,
  });
  return { rate, durationSeconds, maxRate: maxRateOf(rate, durationSeconds) };
}

export function registerLoadCommand(program: Command): void {
  program
    .command('load')
    .description('open-model load (Poisson arrivals) on URL, at a shaped or trace-driven rate')
    .argument('<url>', 'the URL every request goes to')
    .option('--method <method>', 'HTTP method', 'GET')
    .option('--shape <shape>', 'constant|ramp|step|spike|sine', parseShape, 'constant' as Shape)
    .option('--rate <rps>', 'base rate, requests per second', parsePositive('--rate'), 10)
    .option(
      '--peak <rps>',
      'peak rate of ramp/step/spike/sine (default 2 x --rate)',
      parsePositive('--peak'),
    )
    .option('--period <s>', 'sine period in seconds', parsePositive('--period'), 60)
    .option(
      '--duration <s>',
      'run length in seconds (default 30, or the whole trace)',
      parsePositive('--duration'),
    )
    .option('--trace <file>', 'a t_seconds,requests CSV whose rate the load follows')
    .option('--speedup <k>', 'replay the trace k times faster', parsePositive('--speedup'), 1)
    .option('--scale <f>', 'multiply the trace rate by f', parsePositive('--scale'), 1)
    .option('--concurrency <n>', 'bound on requests in flight', parseCount('--concurrency'), 64)
    .option('--timeout <ms>', 'per-request timeout', parsePositive('--timeout'), 10_000)
    .option('--seed <n>', 'seed of the arrival process (default: random)', parseCount('--seed'))
    .option('--json', 'print the summary as JSON')
    .action(async (url: string, flags: LoadFlags) => {
      try {
        const target = new URL(url);
        const { rate, durationSeconds, maxRate } = rateOf(flags);
        const abort = new AbortController();
        const stop = () => abort.abort();
        process.once('SIGINT', stop);
        const tty = process.stderr.isTTY;
        const summary = await runLoad({
          url: target.href,
          method: flags.method.toUpperCase(),
          rate,
          maxRate,
          durationSeconds,
          concurrency: flags.concurrency,
          timeoutMs: flags.timeout,
          random: flags.seed === undefined ? Math.random : seededRandom(flags.seed),
          signal: abort.signal,
          onProgress: (s) =>
            process.stderr.write(tty ? `\r${progressLine(s)}\x1b[K` : `${progressLine(s)}\n`),
        });
        process.off('SIGINT', stop);
        if (tty) process.stderr.write('\n');
        console.log(flags.json ? JSON.stringify(summary, null, 2) : renderSummary(summary));
      } catch (error) {
        console.error(`load: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = 1;
      }
    });
}
