// A child process for the crash campaign: admits ever higher fencing tokens for one service and
// stores the matching assignment, both fsynced, printing `ack <token>` only after both writes
// returned. The parent SIGKILLs it at a random moment and checks from disk that every printed
// token survived. Started with `node --import tsx store-writer.ts <dir>`.
import { join } from 'node:path';
import { AssignmentStore, FencingStore } from '@coxswain/host';
import { ServiceSpec } from '@coxswain/protocol';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: store-writer.ts <dir>\n');
  process.exit(2);
}
const spec = ServiceSpec.parse({ name: 'web', image: 'busybox', minReplicas: 1, maxReplicas: 10 });
const fencing = await FencingStore.open(join(dir, 'fencing'));
const assignments = await AssignmentStore.open(join(dir, 'assignments'), (message) => {
  process.stderr.write(`assignments corrupt: ${message}\n`);
  process.exit(3);
});
let token = Math.max(fencing.highest('web'), assignments.get('web')?.token ?? 0);
process.stdout.write(`ready ${token}\n`);
for (;;) {
  token++;
  await fencing.admit('web', token);
  await assignments.set('web', { replicas: token % 7, spec, specVersion: token, token });
  process.stdout.write(`ack ${token}\n`);
}
