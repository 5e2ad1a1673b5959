/**
 * Erlang C: the probability that an arrival waits in an M/M/c queue with
 * offered load a = lambda / mu erlangs. Computed with the Erlang B recursion
 * B(k) = a B(k-1) / (k + a B(k-1)), which stays in [0, 1] at every step (no
 * factorials, no overflow at hundreds of servers), then
 * C = B / (1 - rho (1 - B)). Returns 1 when the queue is unstable (a >= c).
 */
export function erlangC(servers: number, offeredLoad: number): number {
  if (servers <= 0) return 1;
  if (offeredLoad <= 0) return 0;
  if (offeredLoad >= servers) return 1;
  let b = 1;
  for (let k = 1; k <= servers; k++) b = (offeredLoad * b) / (k + offeredLoad * b);
  const rho = offeredLoad / servers;
  return b / (1 - rho * (1 - b));
}

/**
 * P(T > t) for the sojourn time T = W + S of M/M/c: W is 0 with probability
 * 1 - C and exponential with rate theta = c mu - lambda otherwise; S is
 * exponential with rate mu.
 */
export function sojournTail(
  t: number,
  servers: number,
  lambda: number,
  mu: number,
  waitProbability: number,
): number {
  const theta = servers * mu - lambda;
  const serviceTail = Math.exp(-mu * t);
  let both: number;
  if (Math.abs(theta - mu) < 1e-9 * mu) both = (1 + mu * t) * serviceTail;
  else both = (theta * serviceTail - mu * Math.exp(-theta * t)) / (theta - mu);
  return (1 - waitProbability) * serviceTail + waitProbability * both;
}

/**
 * The q-quantile of M/M/c sojourn time (seconds), by bisection on the tail
 * (monotone in t). Infinity when lambda >= c mu.
 */
export function sojournQuantile(q: number, servers: number, lambda: number, mu: number): number {
  if (servers <= 0 || lambda >= servers * mu) return Number.POSITIVE_INFINITY;
  const c = erlangC(servers, lambda / mu);
  const target = 1 - q;
  let lo = 0;
  let hi = 1 / mu;
  while (sojournTail(hi, servers, lambda, mu, c) > target) hi *= 2;
  for (let i = 0; i < 60 && hi - lo > 1e-6 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (sojournTail(mid, servers, lambda, mu, c) > target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
