export { startS3Emulator } from './emulator';
export type { S3Emulator, S3EmulatorOptions } from './emulator';
export { createS3Client } from './client';
