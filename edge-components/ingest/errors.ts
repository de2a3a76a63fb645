import { SelfcalError } from '../../twin/errors';

/** Stable codes of the ingest component. */
export type IngestErrorCode = 'INGEST_MQTT_UNSUPPORTED';

export class IngestError extends SelfcalError<IngestErrorCode> {
  constructor(code: IngestErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'IngestError';
  }
}
