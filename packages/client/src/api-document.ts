/**
 * The OpenAPI description of the cluster state API, generated from the same
 * zod schemas the routes validate with and answer in.
 */
import {
  ApiErrorBody,
  ClusterEvent,
  ClusterInfo,
  CommandsQuery,
  CommandsReply,
  DecisionsReply,
  EndpointsQuery,
  EndpointsReply,
  EventsQuery,
  IdempotencyKey,
  LocksReply,
  Name,
  NodeId,
  NodesReply,
  ReadQuery,
  ServiceDetail,
  ServiceQuery,
  ServiceScaleBody,
  ServiceSpec,
  ServicesReply,
  WriteReply,
  WriteStatusReply,
} from '@coxswain/protocol';
import { z } from 'zod';
import {
  buildOpenApiDocument,
  type JsonObject,
  type NamedSchema,
  type OpenApiOperation,
  type OpenApiResponse,
} from './openapi.js';

const SCHEMAS: readonly NamedSchema[] = [
  { name: 'ApiError', schema: ApiErrorBody, io: 'output' },
  { name: 'ClusterInfo', schema: ClusterInfo, io: 'output' },
  { name: 'NodesReply', schema: NodesReply, io: 'output' },
  { name: 'ServicesReply', schema: ServicesReply, io: 'output' },
  { name: 'ServiceDetail', schema: ServiceDetail, io: 'output' },
  { name: 'EndpointsReply', schema: EndpointsReply, io: 'output' },
  { name: 'CommandsReply', schema: CommandsReply, io: 'output' },
  { name: 'LocksReply', schema: LocksReply, io: 'output' },
  { name: 'DecisionsReply', schema: DecisionsReply, io: 'output' },
  { name: 'WriteReply', schema: WriteReply, io: 'output' },
  { name: 'WriteStatusReply', schema: WriteStatusReply, io: 'output' },
  { name: 'ClusterEvent', schema: ClusterEvent, io: 'output' },
  { name: 'ServiceSpecInput', schema: ServiceSpec, io: 'input' },
  { name: 'ServiceScaleBody', schema: ServiceScaleBody, io: 'input' },
];

const error = (description: string): OpenApiResponse => ({ description, schema: 'ApiError' });

const READ_ERRORS = {
  400: error('Invalid query or path parameter; `error.issues` names each zod path.'),
  503: error(
    '`consistent=true` and no leader could confirm the read; `error.leader` is its address or null.',
  ),
  504: error('`consistent=true` and the leader did not answer in time.'),
} as const;

const WRITE_ERRORS = {
  400: error('The body or a path parameter is invalid; `error.issues` names each zod path.'),
  401: error(
    'Missing or wrong `Authorization: Bearer <api.token>`, or writes are disabled on this node.',
  ),
  404: error('No such service or node.'),
  409: error('The service is locked by an operation in progress.'),
  503: error(
    'No leader; `error.leader` is the leader address when known but unreachable, else null.',
  ),
  504: error('The leader did not apply the write in time.'),
} as const;

const serviceName = { name: Name };

const OPERATIONS: readonly OpenApiOperation[] = [
  {
    method: 'get',
    path: '/v1/cluster',
    operationId: 'getCluster',
    summary: 'Leader, term, commit index, members and roles',
    tags: ['cluster'],
    query: ReadQuery,
    responses: {
      200: { description: 'The Raft group as this node sees it.', schema: 'ClusterInfo' },
      ...READ_ERRORS,
    },
  },
  {
    method: 'get',
    path: '/v1/nodes',
    operationId: 'listNodes',
    summary: 'Registered and reporting nodes with liveness',
    tags: ['cluster'],
    query: ReadQuery,
    responses: { 200: { description: 'Every node.', schema: 'NodesReply' }, ...READ_ERRORS },
  },
  {
    method: 'delete',
    path: '/v1/nodes/{id}',
    operationId: 'removeNode',
    summary: 'Declare a node removed for good (a voter lost with its disk)',
    tags: ['cluster'],
    pathParams: { id: NodeId },
    auth: true,
    responses: {
      200: { description: 'Applied by the leader.', schema: 'WriteReply' },
      ...WRITE_ERRORS,
    },
  },
  {
    method: 'post',
    path: '/v1/nodes/{id}/voter',
    operationId: 'addVoter',
    summary: 'Add a node (started with join) to the Raft group as a voter, replacing a lost one',
    tags: ['cluster'],
    pathParams: { id: NodeId },
    auth: true,
    responses: {
      202: {
        description:
          'Accepted: added as a learner, then promoted, in the background; poll GET /v1/cluster.',
        schema: 'WriteReply',
      },
      ...WRITE_ERRORS,
    },
  },
  {
    method: 'get',
    path: '/v1/services',
    operationId: 'listServices',
    summary: 'Services with desired and running replicas per node',
    tags: ['services'],
    query: ReadQuery,
    responses: {
      200: { description: 'Every declared service.', schema: 'ServicesReply' },
      ...READ_ERRORS,
    },
  },
  {
    method: 'get',
    path: '/v1/services/{name}',
    operationId: 'getService',
    summary: 'Spec, replicas per node, the nine figures over a window, forecast, recent commands',
    tags: ['services'],
    pathParams: serviceName,
    query: ServiceQuery,
    responses: {
      200: { description: 'One service.', schema: 'ServiceDetail' },
      404: error('No such service.'),
      ...READ_ERRORS,
    },
  },
  {
    method: 'put',
    path: '/v1/services/{name}',
    operationId: 'applyService',
    summary: 'Declare or update a service (its name must equal the path)',
    tags: ['services'],
    pathParams: serviceName,
    body: 'ServiceSpecInput',
    auth: true,
    responses: {
      200: { description: 'Applied by the leader.', schema: 'WriteReply' },
      ...WRITE_ERRORS,
    },
  },
  {
    method: 'delete',
    path: '/v1/services/{name}',
    operationId: 'deleteService',
    summary: 'Delete a service: the leader scales it to zero everywhere, then forgets it',
    tags: ['services'],
    pathParams: serviceName,
    auth: true,
    responses: {
      200: { description: 'Applied by the leader.', schema: 'WriteReply' },
      ...WRITE_ERRORS,
    },
  },
  {
    method: 'get',
    path: '/v1/services/{name}/endpoints',
    operationId: 'getServiceEndpoints',
    summary:
      "Healthy replicas on live nodes as a load balancer reaches them: each host's advertised address and the replica's published port (of the spec's first TCP port, or `port`)",
    tags: ['services'],
    pathParams: serviceName,
    query: EndpointsQuery,
    responses: {
      200: { description: 'Endpoints, sorted by address and port.', schema: 'EndpointsReply' },
      404: error('No such service.'),
      ...READ_ERRORS,
    },
  },
  {
    method: 'get',
    path: '/v1/services/{name}/decisions',
    operationId: 'getServiceDecisions',
    summary:
      "The leader's last N decisions about a service: inputs, forecast, the binding rule, outcome (newest first; served by the leader, forwarded there from other nodes)",
    tags: ['services'],
    pathParams: serviceName,
    query: z.object({ limit: z.string().regex(/^\d+$/).optional() }),
    responses: {
      200: { description: 'Recent decisions, newest first.', schema: 'DecisionsReply' },
      ...READ_ERRORS,
    },
  },
  {
    method: 'post',
    path: '/v1/services/{name}/scale',
    operationId: 'scaleService',
    summary: 'Pin a replica count (null returns the service to its policy)',
    tags: ['services'],
    pathParams: serviceName,
    body: 'ServiceScaleBody',
    auth: true,
    responses: {
      200: { description: 'Applied by the leader.', schema: 'WriteReply' },
      ...WRITE_ERRORS,
    },
  },
  {
    method: 'get',
    path: '/v1/commands',
    operationId: 'listCommands',
    summary: 'Recent scale commands, newest first',
    tags: ['cluster'],
    query: CommandsQuery,
    responses: {
      200: { description: 'The replicated command log.', schema: 'CommandsReply' },
      ...READ_ERRORS,
    },
  },
  {
    method: 'get',
    path: '/v1/locks',
    operationId: 'listLocks',
    summary: 'Per-service locks with their fencing tokens and lease left',
    tags: ['cluster'],
    query: ReadQuery,
    responses: { 200: { description: 'Every held lock.', schema: 'LocksReply' }, ...READ_ERRORS },
  },
  {
    method: 'get',
    path: '/v1/writes/{key}',
    operationId: 'writeStatus',
    summary: 'Whether the write with this idempotency key applied (what a 504 asks to check)',
    tags: ['cluster'],
    pathParams: { key: IdempotencyKey },
    query: ReadQuery,
    responses: {
      200: {
        description: 'Applied or not, as the replicated state remembers it.',
        schema: 'WriteStatusReply',
      },
      ...READ_ERRORS,
    },
  },
  {
    method: 'get',
    path: '/v1/events',
    operationId: 'streamEvents',
    summary: 'Cluster events as Server-Sent Events',
    description:
      "Each frame is `id: <n>`, `event: <type>`, `data: <ClusterEvent JSON>`. Send `Last-Event-ID` (or `since`) to resume from this node's ring, `replay=N` to start with the last N events.",
    tags: ['events'],
    query: EventsQuery,
    responses: {
      200: { description: 'A stream of ClusterEvent frames.', contentType: 'text/event-stream' },
      400: error('Invalid query; `error.issues` names each zod path.'),
      503: error('Too many event streams open on this node.'),
    },
  },
  {
    method: 'get',
    path: '/v1/openapi.json',
    operationId: 'getOpenApi',
    summary: 'This document',
    tags: ['meta'],
    responses: { 200: { description: 'OpenAPI 3.1.', contentType: 'application/json' } },
  },
];

/** The ClusterEvent schema is published for clients of the stream even though no JSON response names it. */
export function buildClusterApiDocument(version: string): JsonObject {
  return buildOpenApiDocument(
    {
      title: 'coxswain cluster state API',
      version,
      description:
        'Served by every agent. Reads come from the local replica (see `meta` and the X-Coxswain-* headers for freshness); `?consistent=true` reads through the leader. Writes need the API token and are applied by the leader.',
    },
    SCHEMAS,
    OPERATIONS,
    {
      'X-Coxswain-Node': { description: 'The node that answered.', schema: NodeId },
      'X-Coxswain-Applied-Index': {
        description: "The Raft index the answering node's replica had applied.",
        schema: z.string().regex(/^\d+$/),
      },
      'X-Coxswain-Term': {
        description: 'The Raft term the answering node knew.',
        schema: z.string().regex(/^\d+$/),
      },
      'X-Coxswain-Leader': {
        description: 'The leader the answering node knew; empty when none.',
        schema: z.string(),
      },
    },
  );
}
