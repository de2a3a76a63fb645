/**
 * A local AWS IoT Device Shadow service on the local broker, speaking AWS's named-shadow MQTT protocol:
 * requests on `$aws/things/<thing>/shadow/name/<shadow>/get|update|delete`, answers on `…/accepted` or
 * `…/rejected` (AWS error codes and messages, clientToken echoed), `…/update/delta` when a change of
 * desired leaves it different from reported, and `…/update/documents`. In-process: one mqtt client.
 * `updateThingShadow` / `getThingShadow` are the cloud side (like the IoT data-plane API).
 */
import { connect, type MqttClient } from 'mqtt';
import { ShadowStore, type ShadowErrorBody, type ShadowStoreOptions } from './shadow-document';

export interface ShadowServiceOptions extends ShadowStoreOptions {
  brokerUrl: string;
  clientId?: string;
}

/** A request the data-plane API refused; `code` is AWS's (400, 404, 409, 413). */
export class ShadowServiceError extends Error {
  constructor(readonly body: ShadowErrorBody) {
    super(`shadow request rejected (${body.code}): ${body.message}`);
    this.name = 'ShadowServiceError';
  }
  get code(): number {
    return this.body.code;
  }
}

export interface ShadowService {
  /** Like IoT data-plane UpdateThingShadow: apply `{state:{desired|reported}, version?}` and publish. */
  updateThingShadow(thingName: string, shadowName: string, request: object): Promise<Record<string, unknown>>;
  /** Like IoT data-plane GetThingShadow; undefined when the shadow does not exist. */
  getThingShadow(thingName: string, shadowName: string): Record<string, unknown> | undefined;
  close(): Promise<void>;
}

const REQUEST = /^\$aws\/things\/([^/]+)\/shadow\/name\/([^/]+)\/(get|update|delete)$/;

export async function startShadowService(options: ShadowServiceOptions): Promise<ShadowService> {
  const store = new ShadowStore(options);
  const client: MqttClient = connect(options.brokerUrl, {
    clientId: options.clientId ?? `shadow-service-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    clean: true,
    reconnectPeriod: 200,
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(
    ['get', 'update', 'delete'].map((op) => `$aws/things/+/shadow/name/+/${op}`),
    { qos: 1 },
  );

  const publish = (topic: string, body: unknown) =>
    client.publishAsync(topic, JSON.stringify(body), { qos: 1 }).catch(() => undefined);

  const handle = (thing: string, shadow: string, op: string, payload: Buffer): void => {
    const prefix = `$aws/things/${thing}/shadow/name/${shadow}`;
    let token: string | undefined;
    try {
      const t = (JSON.parse(payload.toString() || '{}') as { clientToken?: unknown }).clientToken;
      if (typeof t === 'string') token = t;
    } catch {
      // the update path reports the bad JSON; get/delete need no body
    }
    const result =
      op === 'get'
        ? store.get(thing, shadow, token)
        : op === 'delete'
          ? store.delete(thing, shadow, token)
          : undefined;
    if (result) {
      void publish(
        `${prefix}/${op}/${result.ok ? 'accepted' : 'rejected'}`,
        result.ok ? result.body : result.error,
      );
      return;
    }
    publishUpdate(thing, shadow, store.update(thing, shadow, payload));
  };

  const publishUpdate = (thing: string, shadow: string, result: ReturnType<ShadowStore['update']>): void => {
    const prefix = `$aws/things/${thing}/shadow/name/${shadow}/update`;
    if (!result.ok) {
      void publish(`${prefix}/rejected`, result.error);
      return;
    }
    void publish(`${prefix}/accepted`, result.body.accepted);
    void publish(`${prefix}/documents`, result.body.documents);
    if (result.body.delta) void publish(`${prefix}/delta`, result.body.delta);
  };

  client.on('message', (topic, payload) => {
    const m = REQUEST.exec(topic);
    if (m?.[1] && m[2] && m[3]) handle(m[1], m[2], m[3], payload);
  });

  let closing: Promise<void> | undefined;
  return {
    updateThingShadow: async (thingName, shadowName, request) => {
      const result = store.update(thingName, shadowName, request);
      publishUpdate(thingName, shadowName, result);
      if (!result.ok) throw new ShadowServiceError(result.error);
      return result.body.accepted;
    },
    getThingShadow: (thingName, shadowName) => {
      const result = store.get(thingName, shadowName);
      return result.ok ? result.body : undefined;
    },
    close: () => {
      closing ??= client.endAsync().then(() => undefined);
      return closing;
    },
  };
}
