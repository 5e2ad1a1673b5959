export {
  ApiClient,
  type ApiClientOptions,
  ApiRequestError,
  ApiUnreachableError,
  type CommandsQuery,
  type EndpointsQuery,
  type ReadQuery,
  type RequestOptions,
  type ServiceQuery,
  type StreamEventsOptions,
} from './api-client.js';
export { buildClusterApiDocument } from './api-document.js';
export {
  buildOpenApiDocument,
  type JsonObject,
  type NamedSchema,
  OpenApiDocumentError,
  type OpenApiHeader,
  type OpenApiInfo,
  type OpenApiOperation,
  type OpenApiResponse,
  type SchemaIo,
} from './openapi.js';
export { type SseFrame, SseParser } from './sse.js';
