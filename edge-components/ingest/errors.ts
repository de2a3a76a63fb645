import { SelfcalError } from '../../twin/errors';

/** Stable codes of the ingest component. */
export type IngestErrorCode = 'INGEST_CONFIG_INVALID' | 'INGEST_MQTT_UNSUPPORTED';

export class IngestError extends SelfcalError<IngestErrorCode> {
  /** The config key at fault (a JSON pointer), for INGEST_CONFIG_INVALID. */
  readonly key: string | undefined;
  constructor(code: IngestErrorCode, message: string, options?: { cause?: unknown; key?: string }) {
    super(code, message, options);
    this.name = 'IngestError';
    this.key = options?.key;
  }
}
