// The peer of agent-overhead: the least a process can do to read the stats of
// the labelled containers through the Docker stats API every second. Plain
// node:http over the engine's Unix socket (no client library), one list call,
// then one one-shot stats call per container, all at once; it parses each
// answer and keeps CPU and memory, nothing more. Each round's count of stats
// read goes to stdout as one line, so the bench can tell it is working.
//
// Usage: node docker-stats-poller.mjs <socket path> <label key> <interval ms>
import http from 'node:http';

const [socketPath, label, intervalArg] = process.argv.slice(2);
const intervalMs = Number(intervalArg);
if (!socketPath || !label || !(intervalMs > 0)) {
  process.stderr.write('usage: docker-stats-poller.mjs <socket> <label> <interval ms>\n');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function get(path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => {
        if (res.statusCode === 200) resolve(JSON.parse(body));
        else reject(new Error(`GET ${path}: ${res.statusCode} ${body}`));
      });
    });
    req.on('error', reject);
  });
}

const latest = new Map();
async function round() {
  const filters = encodeURIComponent(JSON.stringify({ label: [label] }));
  const list = await get(`/containers/json?filters=${filters}`);
  const stats = await Promise.all(
    list.map((c) => get(`/containers/${c.Id}/stats?stream=false&one-shot=true`)),
  );
  for (const [i, s] of stats.entries())
    latest.set(list[i].Id, {
      cpuNs: s.cpu_stats?.cpu_usage?.total_usage,
      memory: s.memory_stats?.usage,
    });
  process.stdout.write(`${stats.length}\n`);
}

let running = false;
setInterval(() => {
  if (running) return;
  running = true;
  round()
    .catch((e) => process.stderr.write(`${e.message}\n`))
    .finally(() => {
      running = false;
    });
}, intervalMs);
process.on('SIGTERM', () => process.exit(0));
