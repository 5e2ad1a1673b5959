import { CoxswainError, issuesOf } from '@coxswain/protocol';
import { z } from 'zod';

/** `advisor:` in the configuration. Off unless `enabled`; advice is only applied with `apply: true`. */
export const AdvisorConfig = z.object({
  enabled: z.boolean().default(false),
  /** An OpenAI-compatible chat-completions endpoint, e.g. https://api.deepseek.com/chat/completions. */
  url: z.url(),
  model: z.string().min(1),
  /** Name of the environment variable that holds the API key (the key never sits in a file). */
  apiKeyEnv: z.string().min(1).default('COXSWAIN_ADVISOR_API_KEY'),
  /** Apply the advice to the policy's parameters, within their clamps (otherwise it is only shown). */
  apply: z.boolean().default(false),
  timeoutMs: z.number().int().positive().default(10_000),
  /** A longer answer is refused unread. */
  maxResponseBytes: z
    .number()
    .int()
    .positive()
    .default(64 * 1024),
});
export type AdvisorConfig = z.output<typeof AdvisorConfig>;
export type AdvisorConfigInput = z.input<typeof AdvisorConfig>;

/**
 * A configuration file with an `advisor:` section (an agent's YAML, say): only that section is
 * read, the rest is left to the file's other readers.
 */
export const AdvisorConfigFile = z.object({ advisor: AdvisorConfig.optional() }).loose();

/** The recent figures the advisor is shown for one service. */
export const AdvisorFigures = z.object({
  service: z.string().min(1),
  policy: z.string().min(1),
  params: z.record(z.string(), z.unknown()),
  sloP95Ms: z.number().positive().optional(),
  /** Oldest first; a few dozen at most (the request stays small). */
  recent: z
    .array(
      z.object({
        time: z.number(),
        replicas: z.number().int().min(0),
        requestRatePerSecond: z.number().min(0).optional(),
        cpuPercent: z.number().min(0).optional(),
        p95LatencyMs: z.number().min(0).optional(),
      }),
    )
    .max(200),
  /** Fraction of the window's time over the SLO, and replica-seconds, where the caller knows them. */
  overSloFraction: z.number().min(0).max(1).optional(),
  replicaSeconds: z.number().min(0).optional(),
});
export type AdvisorFigures = z.input<typeof AdvisorFigures>;

/** What the model must answer: a JSON object with these fields (all suggestions optional). */
export const Advice = z
  .object({
    targetUtilization: z.number().gt(0).max(1).optional(),
    scaleUpAbovePercent: z.number().gt(0).max(100).optional(),
    scaleDownBelowPercent: z.number().min(0).max(100).optional(),
    minReplicas: z.number().int().min(0).optional(),
    rationale: z.string().min(1).max(2000),
  })
  .strict();
export type Advice = z.output<typeof Advice>;

/** The part of a chat-completions response the advisor reads. */
const ChatCompletion = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({
          content: z.string().nullable().optional(),
          refusal: z.string().nullable().optional(),
        }),
        finish_reason: z.string().nullable().optional(),
      }),
    )
    .min(1),
});

export type AdvisorErrorCode =
  | 'COX_ADVISOR_DISABLED'
  | 'COX_ADVISOR_NO_KEY'
  | 'COX_ADVISOR_NETWORK'
  | 'COX_ADVISOR_TIMEOUT'
  | 'COX_ADVISOR_HTTP'
  | 'COX_ADVISOR_MALFORMED'
  | 'COX_ADVISOR_REFUSED';

/** Why no advice came back; `where` names the part of the exchange that failed. */
export class AdvisorError extends CoxswainError {
  override readonly code: AdvisorErrorCode;
  readonly where: string;
  constructor(
    code: AdvisorErrorCode,
    where: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(code, `advisor ${where}: ${detail}`, options);
    this.code = code;
    this.where = where;
  }
}

export type AdviceResult =
  | { readonly ok: true; readonly advice: Advice }
  | { readonly ok: false; readonly error: AdvisorError };

export interface AdvisorDeps {
  readonly fetch?: typeof fetch;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const SYSTEM = [
  "You advise an autoscaler. You get one service's policy, its parameters and recent figures",
  '(replicas, request rate, CPU %, p95 latency against the SLO).',
  'Answer with ONE JSON object and nothing else, with these optional fields:',
  'targetUtilization (0-1], scaleUpAbovePercent (0-100], scaleDownBelowPercent [0-100], minReplicas (integer >= 0),',
  'and a required "rationale" string (one or two sentences, citing the figures).',
  'Suggest a change only where the figures support it.',
].join(' ');

/** Strips a ```json fence some models wrap around the object. */
function unfence(text: string): string {
  const m = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/.exec(text);
  return m ? m[1]! : text.trim();
}

/**
 * Asks an OpenAI-compatible chat-completions endpoint for threshold and target
 * suggestions. Never throws: every failure (disabled, no key, network, timeout,
 * HTTP status, malformed body or advice, refusal) is an AdvisorError with a
 * stable code, counted in `counts`.
 */
export class Advisor {
  readonly config: AdvisorConfig;
  /** Answers by outcome: 'ok' or an AdvisorErrorCode. */
  readonly counts = new Map<string, number>();
  private readonly fetchFn: typeof fetch;
  private readonly env: Readonly<Record<string, string | undefined>>;

  constructor(config: AdvisorConfigInput, deps: AdvisorDeps = {}) {
    this.config = AdvisorConfig.parse(config);
    this.fetchFn = deps.fetch ?? fetch;
    this.env = deps.env ?? process.env;
  }

  async ask(figures: AdvisorFigures): Promise<AdviceResult> {
    const result = await this.exchange(figures);
    const key = result.ok ? 'ok' : result.error.code;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    return result;
  }

  private async exchange(figures: AdvisorFigures): Promise<AdviceResult> {
    const fail = (code: AdvisorErrorCode, where: string, detail: string, cause?: unknown) => ({
      ok: false as const,
      error: new AdvisorError(code, where, detail, cause === undefined ? undefined : { cause }),
    });
    const c = this.config;
    if (!c.enabled) return fail('COX_ADVISOR_DISABLED', 'config', 'advisor.enabled is false');
    const key = this.env[c.apiKeyEnv];
    if (!key)
      return fail('COX_ADVISOR_NO_KEY', 'config', `environment variable ${c.apiKeyEnv} is not set`);
    const shown = AdvisorFigures.safeParse(figures);
    if (!shown.success)
      return fail(
        'COX_ADVISOR_MALFORMED',
        'figures',
        issuesOf(shown.error)
          .map((i) => `${i.path}: ${i.message}`)
          .join('; '),
      );

    let response: Response;
    let text: string;
    const signal = AbortSignal.timeout(c.timeoutMs);
    try {
      response = await this.fetchFn(c.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({
          model: c.model,
          temperature: 0,
          response_format: { type: 'json_object' },
          messages: [
            { role: 'system', content: SYSTEM },
            { role: 'user', content: JSON.stringify(shown.data) },
          ],
        }),
        signal,
      });
      text = await readLimited(response, c.maxResponseBytes);
    } catch (error) {
      if (signal.aborted)
        return fail(
          'COX_ADVISOR_TIMEOUT',
          c.url,
          `no complete answer within ${c.timeoutMs} ms`,
          error,
        );
      if (error instanceof AdvisorError) return { ok: false, error };
      return fail(
        'COX_ADVISOR_NETWORK',
        c.url,
        error instanceof Error ? error.message : String(error),
        error,
      );
    }
    if (!response.ok)
      return fail('COX_ADVISOR_HTTP', c.url, `HTTP ${response.status}: ${text.slice(0, 200)}`);

    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return fail(
        'COX_ADVISOR_MALFORMED',
        'response body',
        `not JSON: ${JSON.stringify(text.slice(0, 80))}`,
      );
    }
    const completion = ChatCompletion.safeParse(body);
    if (!completion.success)
      return fail(
        'COX_ADVISOR_MALFORMED',
        'response body',
        issuesOf(completion.error)
          .map((i) => `${i.path}: ${i.message}`)
          .join('; '),
      );
    const choice = completion.data.choices[0]!;
    if (choice.message.refusal)
      return fail(
        'COX_ADVISOR_REFUSED',
        'choices[0].message.refusal',
        choice.message.refusal.slice(0, 200),
      );
    if (choice.finish_reason === 'content_filter')
      return fail('COX_ADVISOR_REFUSED', 'choices[0].finish_reason', 'content_filter');
    const content = choice.message.content ?? '';
    let raw: unknown;
    try {
      raw = JSON.parse(unfence(content));
    } catch {
      // A plain-prose answer with no object in it is the model declining to give one.
      return fail(
        content.trim() === '' ? 'COX_ADVISOR_REFUSED' : 'COX_ADVISOR_MALFORMED',
        'choices[0].message.content',
        `not a JSON object: ${JSON.stringify(content.slice(0, 80))}`,
      );
    }
    const advice = Advice.safeParse(raw);
    if (!advice.success)
      return fail(
        'COX_ADVISOR_MALFORMED',
        'choices[0].message.content',
        issuesOf(advice.error)
          .map((i) => `${i.path}: ${i.message}`)
          .join('; '),
      );
    return { ok: true, advice: advice.data };
  }
}

async function readLimited(response: Response, max: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > max)
    throw new AdvisorError(
      'COX_ADVISOR_MALFORMED',
      'response body',
      `${declared} bytes exceeds ${max}`,
    );
  const buf = await response.arrayBuffer();
  if (buf.byteLength > max)
    throw new AdvisorError(
      'COX_ADVISOR_MALFORMED',
      'response body',
      `${buf.byteLength} bytes exceeds ${max}`,
    );
  return new TextDecoder().decode(buf);
}
