/**
 * The local shadow service speaks AWS's named-shadow MQTT protocol: pinned here with a plain mqtt client,
 * the way a device or a cloud app would talk to AWS IoT.
 */
import { connect, type MqttClient } from 'mqtt';
import {
  startLocalBroker,
  startShadowService,
  ShadowServiceError,
  type LocalBroker,
  type ShadowService,
} from '../../../../simulators/broker';

const PREFIX = '$aws/things/gw1/shadow/name/cal';

describe('shadow service (AWS named-shadow topics over MQTT)', () => {
  let broker: LocalBroker;
  let service: ShadowService;
  let client: MqttClient;
  const received: { topic: string; body: Record<string, unknown> }[] = [];

  const next = async (suffix: string): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const i = received.findIndex((m) => m.topic === `${PREFIX}/${suffix}`);
      if (i >= 0) return received.splice(i, 1)[0]!.body;
      if (Date.now() > deadline) throw new Error(`nothing on ${suffix}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const send = (op: string, body: unknown) =>
    client.publishAsync(`${PREFIX}/${op}`, typeof body === 'string' ? body : JSON.stringify(body), {
      qos: 1,
    });

  beforeEach(async () => {
    received.length = 0;
    broker = await startLocalBroker();
    service = await startShadowService({ brokerUrl: broker.url, clock: () => 1_764_000_000_000 });
    client = connect(broker.url);
    await new Promise((r) => client.once('connect', r));
    client.on('message', (topic, payload) => {
      if (!/(accepted|rejected|delta|documents)$/.test(topic)) return; // our own requests echo back
      received.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> });
    });
    await client.subscribeAsync(`${PREFIX}/#`, { qos: 1 });
  });
  afterEach(async () => {
    await client.endAsync();
    await service.close();
    await broker.close();
  });

  it('answers get of a missing shadow with 404 on get/rejected, echoing the clientToken', async () => {
    await send('get', { clientToken: 't1' });

    await expect(next('get/rejected')).resolves.toMatchObject({ code: 404, clientToken: 't1' });
  });

  it('accepts an update, then serves it on get with version, metadata and delta', async () => {
    await send('update', { state: { reported: { a: 1, nested: { x: 1 } } }, clientToken: 'u1' });
    await expect(next('update/accepted')).resolves.toMatchObject({
      state: { reported: { a: 1, nested: { x: 1 } } },
      version: 1,
      clientToken: 'u1',
      metadata: {
        reported: { a: { timestamp: 1_764_000_000 }, nested: { x: { timestamp: 1_764_000_000 } } },
      },
    });
    await expect(next('update/documents')).resolves.toMatchObject({
      previous: null,
      current: { version: 1, state: { reported: { a: 1, nested: { x: 1 } } } },
    });
    await service.updateThingShadow('gw1', 'cal', { state: { desired: { a: 2, nested: { x: 1 } } } });

    await send('get', { clientToken: 'g1' });

    await expect(next('get/accepted')).resolves.toMatchObject({
      state: { desired: { a: 2, nested: { x: 1 } }, reported: { a: 1, nested: { x: 1 } }, delta: { a: 2 } },
      version: 2,
      clientToken: 'g1',
    });
  });

  it('publishes update/delta only when a change of desired leaves it different from reported', async () => {
    await service.updateThingShadow('gw1', 'cal', { state: { reported: { a: 1 } } });
    await service.updateThingShadow('gw1', 'cal', { state: { desired: { a: 1 } } });
    await service.updateThingShadow('gw1', 'cal', { state: { desired: { a: 3 } } });

    await expect(next('update/delta')).resolves.toMatchObject({ state: { a: 3 }, version: 3 });
    await new Promise((r) => setTimeout(r, 100));
    expect(received.filter((m) => m.topic.endsWith('/update/delta'))).toEqual([]);
  });

  it('deletes keys set to null', async () => {
    await service.updateThingShadow('gw1', 'cal', { state: { reported: { a: 1, b: 2 } } });
    await service.updateThingShadow('gw1', 'cal', { state: { reported: { a: null } } });

    expect(service.getThingShadow('gw1', 'cal')).toMatchObject({ state: { reported: { b: 2 } } });
  });

  it('rejects bad JSON with 400', async () => {
    await send('update', '{not json');

    await expect(next('update/rejected')).resolves.toMatchObject({
      code: 400,
      message: 'Payload contains invalid json',
    });
  });

  it('rejects an update without state with 400', async () => {
    await send('update', { clientToken: 'x' });

    await expect(next('update/rejected')).resolves.toMatchObject({ code: 400, clientToken: 'x' });
  });

  it('rejects a stale version with 409 and keeps the document', async () => {
    await service.updateThingShadow('gw1', 'cal', { state: { reported: { a: 1 } } });

    await send('update', { state: { reported: { a: 2 } }, version: 0, clientToken: 'v' });

    await expect(next('update/rejected')).resolves.toMatchObject({ code: 409, message: 'Version conflict' });
    expect(service.getThingShadow('gw1', 'cal')).toMatchObject({ state: { reported: { a: 1 } }, version: 1 });
  });

  it('rejects an oversize document with 413', async () => {
    await expect(
      service.updateThingShadow('gw1', 'cal', { state: { reported: { blob: 'x'.repeat(9000) } } }),
    ).rejects.toEqual(expect.objectContaining({ code: 413 }));
    await expect(service.updateThingShadow('gw1', 'cal', { state: 1 })).rejects.toBeInstanceOf(
      ShadowServiceError,
    );
  });

  it('deletes a shadow', async () => {
    await service.updateThingShadow('gw1', 'cal', { state: { reported: { a: 1 } } });

    await send('delete', { clientToken: 'd' });

    await expect(next('delete/accepted')).resolves.toMatchObject({ version: 1, clientToken: 'd' });
    expect(service.getThingShadow('gw1', 'cal')).toBeUndefined();
  });
});
