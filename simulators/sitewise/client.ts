import { IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';

export interface SitewiseClientOptions {
  /** SDK attempts per call (default 3, as the SDK's); 1 disables retries. */
  maxAttempts?: number;
  region?: string;
}

/**
 * The one way to build a client for the emulator. `disableHostPrefix` is required: without it the SDK
 * sends data-plane calls to `data.<host>` and control-plane calls to `api.<host>`, which do not resolve.
 */
export function createSitewiseClient(
  endpoint: string,
  options: SitewiseClientOptions = {},
): IoTSiteWiseClient {
  return new IoTSiteWiseClient({
    region: options.region ?? 'us-east-1',
    endpoint,
    disableHostPrefix: true,
    credentials: { accessKeyId: 'emulator', secretAccessKey: 'emulator' },
    maxAttempts: options.maxAttempts ?? 3,
  });
}
