/**
 * What an experiment runs against: the cluster's API, its NATS servers, a
 * Docker engine per host, and (for the `lab` provider) the lab's handles.
 */
import type { Lab } from '@coxswain/lab';
import Docker from 'dockerode';
import { ClientClusterApi, type ClusterApi } from './cluster-api.js';

export interface ChaosHost {
  readonly name: string;
  readonly address: string;
  readonly apiUrl: string;
  readonly voter: boolean;
  /** The host's network namespace (lab only). */
  readonly netns: string | undefined;
}

/** What nats.js needs beyond the URLs: a user, and TLS files for servers that verify clients. */
export interface NatsClientOptions {
  readonly user?: string;
  readonly pass?: string;
  readonly tls?: {
    readonly caFile?: string;
    readonly certFile?: string;
    readonly keyFile?: string;
  };
}

export interface ChaosEnv {
  readonly cluster: string;
  readonly api: ClusterApi;
  readonly hosts: readonly ChaosHost[];
  readonly natsUrls: readonly string[];
  /** Credentials and TLS files for those servers (the lab's watcher), when they need any. */
  readonly natsClient: NatsClientOptions | undefined;
  /** The lab, when the target is one: every fault needs it except container faults on a Docker endpoint. */
  readonly lab: Lab | undefined;
  /** A host's Docker engine, or undefined when none is known. */
  docker(host: string): Docker | undefined;
  /** API writes (declaring services) need the token. */
  readonly token: string | undefined;
}

export function labEnv(lab: Lab): ChaosEnv {
  const hosts = lab.hosts.map((h) => ({
    name: h.name,
    address: h.address,
    apiUrl: h.apiUrl,
    voter: lab.voters.includes(h.name),
    netns: h.netns,
  }));
  return {
    cluster: lab.cluster,
    api: new ClientClusterApi(
      hosts.map((h) => h.apiUrl),
      lab.apiToken,
    ),
    hosts,
    natsUrls: lab.natsUrls,
    natsClient: lab.natsClient,
    lab,
    docker: (name) => lab.host(name).dockerd?.docker,
    token: lab.apiToken,
  };
}

/** `unix:///var/run/docker.sock` or `tcp://host:2375` as a dockerode client. */
export function dockerAt(endpoint: string): Docker {
  if (endpoint.startsWith('unix://'))
    return new Docker({ socketPath: endpoint.slice('unix://'.length) });
  const url = new URL(endpoint.replace(/^tcp:/, 'http:'));
  return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: 'http' });
}

/** A real cluster: API URLs (one per node, voters found through /v1/cluster), NATS, engines. */
export async function apiEnv(options: {
  cluster: string;
  urls: readonly string[];
  token?: string;
  nats: readonly string[];
  docker: Readonly<Record<string, string>>;
}): Promise<ChaosEnv> {
  const api = new ClientClusterApi(options.urls, options.token);
  let members: { id: string; voter: boolean; address: string | null }[] = [];
  for (const url of api.urls) {
    try {
      members = (await api.cluster(url)).members;
      break;
    } catch {
      // next node
    }
  }
  const hosts = api.urls.map((url, i) => {
    const host = new URL(url).hostname;
    const m =
      members.find((x) => x.address !== null && x.address.split(':')[0] === host) ?? members[i];
    return {
      name: m?.id ?? `node-${i + 1}`,
      address: host,
      apiUrl: url,
      voter: m?.voter ?? true,
      netns: undefined,
    };
  });
  const engines = new Map(Object.entries(options.docker).map(([k, v]) => [k, dockerAt(v)]));
  return {
    cluster: options.cluster,
    api,
    hosts,
    natsUrls: options.nats,
    natsClient: undefined,
    lab: undefined,
    docker: (name) => engines.get(name),
    token: options.token,
  };
}
