import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeYaml, ServiceSpec } from '@coxswain/protocol';

/** deploy/lab/samples/web.yaml, from src/ or dist/ alike. */
export const SAMPLE_SERVICE_PATH = fileURLToPath(new URL('../samples/web.yaml', import.meta.url));

/** Reads and validates a service spec file; a bad file throws the decoder's error naming the field. */
export function loadServiceSpec(path: string = SAMPLE_SERVICE_PATH): ServiceSpec {
  const decoded = decodeYaml(ServiceSpec, readFileSync(path, 'utf8'), { where: path });
  if (!decoded.ok) throw decoded.error;
  return decoded.value;
}

/**
 * deploy/lab/samples/demo: the specs of the sample chain (order.yaml, storage.yaml,
 * account.yaml) and the chaos experiment (kill-leader-host.yaml) of `coxswain lab --scenario demo`.
 */
export const DEMO_SAMPLES_DIR = fileURLToPath(new URL('../samples/demo', import.meta.url));
