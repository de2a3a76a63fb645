/** AWS's named-shadow protocol over MQTT (get/update with clientToken correlation, update/delta). */
import { randomUUID } from 'node:crypto';
import type { DeviceShadow, JsonObject, ShadowDocument, Subscription } from './contract';
import { RuntimeError, withTimeout } from './errors';
import { isJsonObject, type BrokerConnection } from './mqtt-connection';
import { isValidShadowName, namedShadowTopic } from './topics';

interface PendingRequest {
  resolve: (r: { accepted: boolean; body: JsonObject }) => void;
}

function checkName(shadowName: string): void {
  if (!isValidShadowName(shadowName)) {
    throw new RuntimeError(
      'RUNTIME_INVALID_ARGUMENT',
      `invalid shadow name '${shadowName}' ([A-Za-z0-9:_-]{1,64})`,
    );
  }
}

/** The RuntimeError of a `…/rejected` answer, by its code. */
function rejection(shadowName: string, op: string, body: JsonObject): RuntimeError {
  const code = body.code;
  const message = `shadow ${shadowName} ${op} rejected (${String(code)}): ${String(body.message)}`;
  if (code === 409) return new RuntimeError('RUNTIME_CONFLICT', message);
  if (code === 401 || code === 403) return new RuntimeError('RUNTIME_UNAUTHORIZED', message);
  if (code === 400 || code === 413) return new RuntimeError('RUNTIME_INVALID_ARGUMENT', message);
  return new RuntimeError('RUNTIME_REQUEST_FAILED', message);
}

/** AWS's named-shadow protocol over MQTT, correlating answers by clientToken. */
export function createMqttShadow(
  broker: BrokerConnection,
  thingName: string,
  requestTimeoutMs: number,
): DeviceShadow & { dispose(): void } {
  const pending = new Map<string, PendingRequest>();
  const responseSubscriptions = new Map<string, Promise<Subscription>>();

  const onResponse = (topic: string, body: JsonObject) => {
    const token = body.clientToken;
    if (typeof token !== 'string') return;
    const p = pending.get(token);
    if (!p) return;
    pending.delete(token);
    p.resolve({ accepted: topic.endsWith('/accepted'), body });
  };

  /** Subscribe to the shadow's get/update answers once, before the first request. */
  const ensureResponses = (shadowName: string): Promise<Subscription> => {
    let s = responseSubscriptions.get(shadowName);
    if (!s) {
      // Exact topics, not `…/+/+`: overlapping filters may make a broker deliver a delta twice.
      const prefix = namedShadowTopic(thingName, shadowName);
      s = Promise.all(
        ['get/accepted', 'get/rejected', 'update/accepted', 'update/rejected'].map((t) =>
          broker.subscribe(`${prefix}/${t}`, onResponse),
        ),
      ).then((subs) => ({ close: async () => void (await Promise.all(subs.map((x) => x.close()))) }));
      s.catch(() => responseSubscriptions.delete(shadowName));
      responseSubscriptions.set(shadowName, s);
    }
    return s;
  };

  const request = async (shadowName: string, op: 'get' | 'update', body: JsonObject) => {
    checkName(shadowName);
    await ensureResponses(shadowName);
    const clientToken = randomUUID();
    const answer = new Promise<{ accepted: boolean; body: JsonObject }>((resolve) =>
      pending.set(clientToken, { resolve }),
    );
    try {
      await broker.publish(`${namedShadowTopic(thingName, shadowName)}/${op}`, { ...body, clientToken });
      return await withTimeout(answer, requestTimeoutMs, `shadow ${shadowName} ${op}`);
    } finally {
      pending.delete(clientToken);
    }
  };

  return {
    get: async (shadowName): Promise<ShadowDocument | undefined> => {
      const r = await request(shadowName, 'get', {});
      if (!r.accepted) {
        if (r.body.code === 404) return undefined;
        throw rejection(shadowName, 'get', r.body);
      }
      const s = isJsonObject(r.body.state) ? r.body.state : {};
      const state: ShadowDocument['state'] = {};
      if (isJsonObject(s.desired)) state.desired = s.desired;
      if (isJsonObject(s.reported)) state.reported = s.reported;
      if (isJsonObject(s.delta)) state.delta = s.delta;
      return { state, version: typeof r.body.version === 'number' ? r.body.version : 0 };
    },
    updateReported: async (shadowName, reported) => {
      const r = await request(shadowName, 'update', { state: { reported } });
      if (!r.accepted) throw rejection(shadowName, 'update', r.body);
    },
    onDelta: async (shadowName, handler) => {
      checkName(shadowName);
      return broker.subscribe(`${namedShadowTopic(thingName, shadowName)}/update/delta`, (_topic, body) => {
        if (isJsonObject(body.state) && typeof body.version === 'number') handler(body.state, body.version);
      });
    },
    dispose: () => {
      pending.clear();
      responseSubscriptions.clear();
    },
  };
}
