// Serving: dynamic batching of concurrent inference requests.
export {
  DynamicBatcher, DynamicBatcherOptions, DynamicBatcherStats, BatchedResult, dynamicBatcher, BATCHER_QUEUE_FULL, BATCHER_CLOSED,
} from './dynamic-batcher';
