import { S3Client } from '@aws-sdk/client-s3';

/**
 * An S3Client for the emulator (or any S3-compatible endpoint on loopback): path-style addressing
 * (`forcePathStyle`: `127.0.0.1` cannot take a bucket subdomain) and dummy credentials (the SDK always
 * signs; the emulator does not check). Checksums stay at the SDK's defaults (`WHEN_SUPPORTED`), so the
 * emulator sees what S3 sees: a CRC32 header for Buffer bodies, aws-chunked with a trailer for streams.
 */
export function createS3Client(
  endpoint: string,
  options: { region?: string; maxAttempts?: number } = {},
): S3Client {
  return new S3Client({
    region: options.region ?? 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'emulator', secretAccessKey: 'emulator' },
    maxAttempts: options.maxAttempts ?? 3,
  });
}
