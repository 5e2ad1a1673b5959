// The sample application: one file, no dependencies, three roles (ROLE=order|storage|account).
//
//   POST /order/create?userId=&productId=&count=&money=   (order)   -> storage deduct, account debit
//   POST /storage/deduct?productId=&count=                 (storage)
//   POST /account/debit?userId=&money=                     (account)
//   GET  /health    GET /metrics (Prometheus text: http_requests_total, http_request_duration_seconds)
//
// Every request does a fixed amount of real CPU work (WORK_HASHES rounds of SHA-256), so that under a
// CPU limit load means CPU and a modest request rate saturates a replica.
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';

const ROLE = process.env.ROLE ?? 'order';
const PORT = Number(process.env.PORT ?? 8080);
const WORK_HASHES = Number(process.env.WORK_HASHES ?? 2000);
const STORAGE_URL = process.env.STORAGE_URL ?? 'http://127.0.0.1:8081';
const ACCOUNT_URL = process.env.ACCOUNT_URL ?? 'http://127.0.0.1:8082';
const DOWNSTREAM_TIMEOUT_MS = Number(process.env.DOWNSTREAM_TIMEOUT_MS ?? 5000);
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const counts = new Map(); // `${route} ${code}` -> n
const histogram = { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 };
const stock = new Map();
const balances = new Map();

function work(seed) {
  let h = Buffer.from(seed);
  for (let i = 0; i < WORK_HASHES; i++) h = createHash('sha256').update(h).digest();
  return h.toString('hex', 0, 4);
}

function observe(route, code, seconds) {
  const key = `${route} ${code}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
  histogram.sum += seconds;
  histogram.count += 1;
  for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]) histogram.buckets[i] += 1;
}

function metricsText() {
  const lines = [
    '# HELP http_requests_total Requests handled, by route and status code.',
    '# TYPE http_requests_total counter',
  ];
  for (const [key, n] of counts) {
    const [route, code] = key.split(' ');
    lines.push(`http_requests_total{route="${route}",code="${code}"} ${n}`);
  }
  lines.push(
    '# HELP http_request_duration_seconds Request latency in seconds.',
    '# TYPE http_request_duration_seconds histogram',
  );
  BUCKETS.forEach((le, i) => {
    lines.push(`http_request_duration_seconds_bucket{le="${le}"} ${histogram.buckets[i]}`);
  });
  lines.push(`http_request_duration_seconds_bucket{le="+Inf"} ${histogram.count}`);
  lines.push(`http_request_duration_seconds_sum ${histogram.sum}`);
  lines.push(`http_request_duration_seconds_count ${histogram.count}`);
  return `${lines.join('\n')}\n`;
}

function call(base, path) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      new URL(path, base),
      { method: 'POST', timeout: DOWNSTREAM_TIMEOUT_MS },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${DOWNSTREAM_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function intParam(q, name) {
  const v = q.get(name);
  if (v === null || !/^-?\d+$/.test(v))
    throw Object.assign(new Error(`query parameter ${name} must be an integer`), { status: 400 });
  return Number(v);
}

async function handle(method, url) {
  const q = url.searchParams;
  if (ROLE === 'order' && url.pathname === '/order/create' && method === 'POST') {
    const userId = intParam(q, 'userId');
    const productId = intParam(q, 'productId');
    const count = intParam(q, 'count');
    const money = intParam(q, 'money');
    const receipt = work(`${userId}:${productId}:${count}:${money}`);
    const [s, a] = await Promise.all([
      call(STORAGE_URL, `/storage/deduct?productId=${productId}&count=${count}`),
      call(ACCOUNT_URL, `/account/debit?userId=${userId}&money=${money}`),
    ]);
    if (s.status !== 200 || a.status !== 200)
      return [502, { error: 'downstream failed', storage: s.status, account: a.status }];
    return [200, { ok: true, receipt, storage: JSON.parse(s.body), account: JSON.parse(a.body) }];
  }
  if (ROLE === 'storage' && url.pathname === '/storage/deduct' && method === 'POST') {
    const productId = intParam(q, 'productId');
    const count = intParam(q, 'count');
    work(`${productId}:${count}`);
    stock.set(productId, (stock.get(productId) ?? 0) - count);
    return [200, { productId, deducted: count }];
  }
  if (ROLE === 'account' && url.pathname === '/account/debit' && method === 'POST') {
    const userId = intParam(q, 'userId');
    const money = intParam(q, 'money');
    work(`${userId}:${money}`);
    balances.set(userId, (balances.get(userId) ?? 0) - money);
    return [200, { userId, debited: money }];
  }
  return [404, { error: `no route ${method} ${url.pathname} on ${ROLE}` }];
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/health')
    return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
  if (url.pathname === '/metrics')
    return void res
      .writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
      .end(metricsText());
  const started = process.hrtime.bigint();
  handle(req.method ?? 'GET', url).then(
    ([status, body]) => finish(status, body),
    (error) => finish(error.status ?? 500, { error: error.message }),
  );
  function finish(status, body) {
    observe(url.pathname, status, Number(process.hrtime.bigint() - started) / 1e9);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
});
server.keepAliveTimeout = 5000;
server.listen(PORT, '0.0.0.0', () => console.log(`${ROLE} listening on ${PORT}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
