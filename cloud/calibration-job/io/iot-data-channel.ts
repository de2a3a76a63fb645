/**
 * Manifests to the gateways through the AWS IoT data-plane HTTP API (GetThingShadow / UpdateThingShadow
 * with `shadowName`), the way a Batch job in AWS reaches its gateways' shadows. Locally the same client
 * talks to simulators/broker/shadow-http.ts, an HTTP front on the broker's shadow service.
 * Against AWS the client needs the account's data endpoint (`https://<id>-ats.iot.<region>.amazonaws.com`).
 */
import {
  GetThingShadowCommand,
  UpdateThingShadowCommand,
  type IoTDataPlaneClient,
} from '@aws-sdk/client-iot-data-plane';
import type { SignedManifest } from '../../../twin/calibration/manifest';
import type { ManifestChannel } from './contracts';
import { JobIoError, describeCause } from './errors';
import {
  CALIBRATION_SHADOW,
  CREATE_SHADOW_UPDATE,
  PUBLISH_ATTEMPTS,
  checkThingName,
  manifestOfShadow,
  replacementUpdate,
} from './shadow-manifest';

export interface IotDataChannelOptions {
  client: IoTDataPlaneClient;
}

/** The service refused the request: retrying the same request will not help (unlike 5xx/throttling). */
const REJECTIONS = new Set([
  'InvalidRequestException',
  'RequestEntityTooLargeException',
  'ConflictException',
  'ForbiddenException',
  'UnauthorizedException',
  'MethodNotAllowedException',
  'UnsupportedDocumentEncodingException',
]);

export class IotDataManifestChannel implements ManifestChannel {
  private readonly client: IoTDataPlaneClient;

  constructor(options: IotDataChannelOptions) {
    this.client = options.client;
  }

  async current(thingName: string): Promise<SignedManifest | undefined> {
    return manifestOfShadow(await this.getShadow(thingName));
  }

  async publish(thingName: string, signed: SignedManifest): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const current = (await this.getShadow(thingName)) ?? (await this.createShadow(thingName));
      const payload = Buffer.from(JSON.stringify(replacementUpdate(current, signed)), 'utf8');
      try {
        await this.client.send(
          new UpdateThingShadowCommand({ thingName, shadowName: CALIBRATION_SHADOW, payload }),
        );
        return;
      } catch (err) {
        if (errorName(err) === 'ConflictException' && attempt < PUBLISH_ATTEMPTS) continue;
        throw failure(thingName, 'update', err);
      }
    }
  }

  /** Creates the shadow (see CREATE_SHADOW_UPDATE) and returns what it holds then. */
  private async createShadow(thingName: string): Promise<unknown> {
    try {
      await this.client.send(
        new UpdateThingShadowCommand({
          thingName,
          shadowName: CALIBRATION_SHADOW,
          payload: Buffer.from(JSON.stringify(CREATE_SHADOW_UPDATE), 'utf8'),
        }),
      );
    } catch (err) {
      throw failure(thingName, 'update', err);
    }
    return (await this.getShadow(thingName)) ?? {};
  }

  async close(): Promise<void> {
    // The client is the caller's (it may serve other channels); nothing of ours to release.
  }

  private async getShadow(thingName: string): Promise<unknown> {
    checkThingName(thingName);
    let payload: Uint8Array | undefined;
    try {
      payload = (
        await this.client.send(new GetThingShadowCommand({ thingName, shadowName: CALIBRATION_SHADOW }))
      ).payload;
    } catch (err) {
      if (errorName(err) === 'ResourceNotFoundException') return undefined;
      throw failure(thingName, 'get', err);
    }
    try {
      return JSON.parse(Buffer.from(payload ?? new Uint8Array()).toString('utf8')) as unknown;
    } catch (err) {
      throw new JobIoError('SHADOW_FAILED', `shadow ${CALIBRATION_SHADOW} of '${thingName}' is not JSON`, {
        cause: err,
      });
    }
  }
}

function errorName(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as { name?: string }).name : undefined;
}

function failure(thingName: string, op: string, err: unknown): JobIoError {
  const name = errorName(err) ?? '';
  return new JobIoError(
    REJECTIONS.has(name) ? 'SHADOW_REJECTED' : 'SHADOW_FAILED',
    `shadow ${CALIBRATION_SHADOW} of '${thingName}': ${op} ${REJECTIONS.has(name) ? 'rejected' : 'failed'}: ${describeCause(err)}`,
    { cause: err },
  );
}
