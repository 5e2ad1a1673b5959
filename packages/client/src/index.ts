export {
  ApiClient,
  type ApiClientOptions,
  ApiRequestError,
  ApiUnreachableError,
  type CommandsQuery,
  type ReadQuery,
  type RequestOptions,
  type ServiceQuery,
  type StreamEventsOptions,
} from './api-client.js';
export { type SseFrame, SseParser } from './sse.js';
