/**
 * Manifests to the gateways over AWS IoT's named-shadow MQTT protocol: `…/shadow/name/selfcal-calibration/get`
 * and `/update` with a clientToken, answers matched on `/accepted` or `/rejected`. Works against the
 * local broker's shadow service (simulators/broker) and, with a certificate-authenticated connection,
 * against AWS IoT Core itself. Requests time out (SHADOW_TIMEOUT) when no shadow service answers.
 */
import { randomUUID } from 'node:crypto';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
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

export interface MqttShadowChannelOptions {
  brokerUrl: string;
  clientId?: string;
  /** Per request (default 10 s); also bounds the first connection. */
  timeoutMs?: number;
  /** Extra mqtt options (TLS certificates for AWS IoT Core, credentials). */
  mqtt?: IClientOptions;
}

interface Answer {
  accepted: boolean;
  body: Record<string, unknown>;
}

const topicOf = (thingName: string) => `$aws/things/${thingName}/shadow/name/${CALIBRATION_SHADOW}`;

export class MqttShadowManifestChannel implements ManifestChannel {
  /** By clientToken: the request's topic (`…/update`) and how to answer it. */
  private readonly pending = new Map<string, { topic: string; resolve: (a: Answer) => void }>();
  private readonly subscribed = new Map<string, Promise<unknown>>();

  private constructor(
    private readonly client: MqttClient,
    private readonly timeoutMs: number,
  ) {
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  static async connect(options: MqttShadowChannelOptions): Promise<MqttShadowManifestChannel> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const client = connect(options.brokerUrl, {
      clientId: options.clientId ?? `selfcal-job-${randomUUID().slice(0, 8)}`,
      clean: true,
      reconnectPeriod: 500,
      connectTimeout: timeoutMs,
      ...options.mqtt,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no CONNACK within ${timeoutMs} ms`)), timeoutMs);
        client.once('connect', () => (clearTimeout(timer), resolve()));
        client.once('error', (err) => (clearTimeout(timer), reject(err)));
      });
      // Later connection errors show as requests that fail or time out; the client reconnects by itself.
      client.on('error', () => undefined);
    } catch (err) {
      client.end(true);
      throw new JobIoError('SHADOW_FAILED', `cannot connect to ${options.brokerUrl}: ${describeCause(err)}`, {
        cause: err,
      });
    }
    return new MqttShadowManifestChannel(client, timeoutMs);
  }

  async current(thingName: string): Promise<SignedManifest | undefined> {
    const doc = await this.getShadow(thingName);
    return manifestOfShadow(doc);
  }

  async publish(thingName: string, signed: SignedManifest): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const current = (await this.getShadow(thingName)) ?? (await this.createShadow(thingName));
      const answer = await this.request(thingName, 'update', (token) =>
        replacementUpdate(current, signed, token),
      );
      if (answer.accepted) return;
      if (answer.body.code === 409 && attempt < PUBLISH_ATTEMPTS) continue;
      throw rejected(thingName, 'update', answer.body);
    }
  }

  async close(): Promise<void> {
    for (const p of this.pending.values())
      p.resolve({ accepted: false, body: { code: 0, message: 'closed' } });
    this.pending.clear();
    await this.client.endAsync();
  }

  private async createShadow(thingName: string): Promise<Record<string, unknown>> {
    const created = await this.request(thingName, 'update', (clientToken) => ({
      ...CREATE_SHADOW_UPDATE,
      clientToken,
    }));
    if (!created.accepted) throw rejected(thingName, 'update', created.body);
    return (await this.getShadow(thingName)) ?? {};
  }

  /** The shadow document, or undefined when the thing has no calibration shadow yet. */
  private async getShadow(thingName: string): Promise<Record<string, unknown> | undefined> {
    const answer = await this.request(thingName, 'get', (clientToken) => ({ clientToken }));
    if (answer.accepted) return answer.body;
    if (answer.body.code === 404) return undefined;
    throw rejected(thingName, 'get', answer.body);
  }

  private async request(
    thingName: string,
    op: 'get' | 'update',
    body: (clientToken: string) => Record<string, unknown>,
  ): Promise<Answer> {
    checkThingName(thingName);
    await this.subscribe(thingName);
    const token = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<Answer>((resolve, reject) => {
      this.pending.set(token, { topic: `${topicOf(thingName)}/${op}`, resolve });
      timer = setTimeout(
        () =>
          reject(
            new JobIoError(
              'SHADOW_TIMEOUT',
              `no answer to shadow ${op} of '${thingName}' within ${this.timeoutMs} ms: is the shadow service up?`,
            ),
          ),
        this.timeoutMs,
      );
    });
    try {
      await this.client.publishAsync(`${topicOf(thingName)}/${op}`, JSON.stringify(body(token)), { qos: 1 });
      return await answer;
    } catch (err) {
      if (err instanceof JobIoError) throw err;
      throw new JobIoError('SHADOW_FAILED', `shadow ${op} of '${thingName}' failed: ${describeCause(err)}`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
      this.pending.delete(token);
    }
  }

  /** Once per thing, before its first request: the four answer topics (exact, not wildcards). */
  private subscribe(thingName: string): Promise<unknown> {
    let s = this.subscribed.get(thingName);
    if (!s) {
      const prefix = topicOf(thingName);
      s = this.client.subscribeAsync(
        ['get/accepted', 'get/rejected', 'update/accepted', 'update/rejected'].map((t) => `${prefix}/${t}`),
        { qos: 1 },
      );
      s.catch(() => this.subscribed.delete(thingName));
      this.subscribed.set(thingName, s);
    }
    return s;
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (!topic.endsWith('/accepted') && !topic.endsWith('/rejected')) return;
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    const token = (body as { clientToken?: unknown } | null)?.clientToken;
    let match = typeof token === 'string' ? this.pending.get(token) : undefined;
    if (!match && token === undefined && topic.endsWith('/rejected')) {
      // A payload the service could not parse (too large, not JSON) is rejected without our token:
      // it answers the one request in flight on that topic, if there is exactly one.
      const request = topic.slice(0, -'/rejected'.length);
      const candidates = [...this.pending.values()].filter((p) => p.topic === request);
      if (candidates.length === 1) match = candidates[0];
    }
    match?.resolve({ accepted: topic.endsWith('/accepted'), body: body as Record<string, unknown> });
  }
}

function rejected(thingName: string, op: string, body: Record<string, unknown>): JobIoError {
  return new JobIoError(
    'SHADOW_REJECTED',
    `shadow ${CALIBRATION_SHADOW} of '${thingName}': ${op} rejected (${String(body.code)}): ${String(body.message)}`,
  );
}
