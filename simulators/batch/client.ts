import { BatchClient } from '@aws-sdk/client-batch';

export interface BatchClientOptions {
  /** SDK attempts per call (default 3, as the SDK's); 1 disables retries. */
  maxAttempts?: number;
  region?: string;
}

/** The one way to build a client for the emulator: fixed endpoint, dummy credentials. */
export function createBatchClient(endpoint: string, options: BatchClientOptions = {}): BatchClient {
  return new BatchClient({
    region: options.region ?? 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'emulator', secretAccessKey: 'emulator' },
    maxAttempts: options.maxAttempts ?? 3,
  });
}
