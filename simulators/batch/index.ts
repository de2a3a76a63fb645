export { startBatchEmulator } from './emulator';
export type { BatchEmulator, BatchEmulatorOptions } from './emulator';
export { createBatchClient } from './client';
export type { BatchClientOptions } from './client';
export { BatchApiError } from './api-errors';
export { globMatches, matchingRule, shouldRetry } from './retry';
export { substituteRefs } from './control-plane';
export type { JobDetail, JobStatus } from './wire-types';
