/**
 * The fake nucleus's behaviour where it mirrors the real one, driven by the real SDK client
 * (aws-iot-device-sdk-v2 greengrasscoreipc) over its Unix socket.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventstream_rpc, greengrasscoreipc } from 'aws-iot-device-sdk-v2';
import { startFakeNucleus, type FakeNucleus } from '../../../../simulators/greengrass';

const SVCUID = 'fake-nucleus-test';
type Client = greengrasscoreipc.Client;

async function rpcError(p: Promise<unknown>): Promise<eventstream_rpc.RpcError> {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(e).toBeInstanceOf(eventstream_rpc.RpcError);
  return e as eventstream_rpc.RpcError;
}

const until = async (predicate: () => boolean) => {
  const deadline = Date.now() + 30_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('fake Greengrass nucleus (real SDK client)', () => {
  let dir: string;
  let nucleus: FakeNucleus;
  let client: Client;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gg-fake-'));
    nucleus = await startFakeNucleus({
      socketPath: join(dir, 'ipc.sock'),
      svcuid: SVCUID,
      componentName: 'com.selfcal.Test',
      configuration: { lineId: 'L1', limits: { maxRps: '5' } },
      accessControl: {
        'aws.greengrass.ipc.pubsub': {
          'com.selfcal.Test:pubsub:1': { operations: ['*'], resources: ['ok/*', '$aws/*'] },
        },
        'aws.greengrass.ipc.mqttproxy': {
          'com.selfcal.Test:mqttproxy:1': {
            operations: ['aws.greengrass#PublishToIoTCore'],
            resources: ['gw/+/up'],
          },
        },
        'aws.greengrass.ShadowManager': {
          'com.selfcal.Test:shadow:1': { operations: ['*'], resources: ['*'] },
        },
      },
    });
    const config = greengrasscoreipc.createDefaultClientConfig();
    config.hostName = nucleus.socketPath;
    config.connectTransform = async (o) => {
      o.message.payload = JSON.stringify({ authToken: SVCUID });
      return o.message;
    };
    client = greengrasscoreipc.createClient(config);
    await client.connect();
  });
  afterEach(async () => {
    await client.close();
    await nucleus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('denies a publish outside accessControl with the nucleus UnauthorizedError message', async () => {
    const e = await rpcError(
      client.publishToTopic({ topic: 'nope/x', publishMessage: { jsonMessage: { message: {} } } }),
    );

    expect(e.type).toBe(eventstream_rpc.RpcErrorType.ServiceError);
    expect(e.serviceError).toEqual({
      message:
        'Principal com.selfcal.Test is not authorized to perform aws.greengrass.ipc.pubsub:aws.greengrass#PublishToTopic on resource nope/x',
    });
  });

  it('matches mqttproxy policies with MQTT wildcards and records what reached IoT Core', async () => {
    await client.publishToIoTCore({
      topicName: 'gw/7/up',
      qos: greengrasscoreipc.model.QOS.AT_LEAST_ONCE,
      payload: '{"a":1}',
    });
    const denied = await rpcError(
      client
        .subscribeToIoTCore({ topicName: 'gw/7/up', qos: greengrasscoreipc.model.QOS.AT_LEAST_ONCE })
        .activate(),
    );

    expect(nucleus.iotCorePublished.map((m) => [m.topicName, m.payload.toString()])).toEqual([
      ['gw/7/up', '{"a":1}'],
    ]);
    expect(denied.type).toBe(eventstream_rpc.RpcErrorType.ServiceError);
  });

  it('by default does not echo a component its own messages on a wildcard subscription', async () => {
    const got: string[] = [];
    const wildcard = client.subscribeToTopic({ topic: 'ok/+' });
    wildcard.on('message', (m) => got.push(`wild:${m.jsonMessage?.context?.topic}`));
    await wildcard.activate();
    const exact = client.subscribeToTopic({ topic: 'ok/a' });
    exact.on('message', (m) => got.push(`exact:${m.jsonMessage?.context?.topic}`));
    await exact.activate();

    await client.publishToTopic({ topic: 'ok/a', publishMessage: { jsonMessage: { message: { n: 1 } } } });

    await until(() => got.length > 0);
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual(['exact:ok/a']);
  });

  it('returns a leaf configuration value wrapped in its key, and the whole tree for []', async () => {
    const leaf = await client.getConfiguration({ keyPath: ['limits', 'maxRps'] });
    const all = await client.getConfiguration({ keyPath: [] });

    expect(leaf.value).toEqual({ maxRps: '5' });
    expect(all).toEqual({
      componentName: 'com.selfcal.Test',
      value: { lineId: 'L1', limits: { maxRps: '5' } },
    });
  });

  it('sends one configuration event per changed leaf, without the value', async () => {
    const events: unknown[] = [];
    const op = client.subscribeToConfigurationUpdate({ keyPath: [] });
    op.on('message', (e) => events.push(e.configurationUpdateEvent));
    await op.activate();

    nucleus.updateConfiguration({ maxRps: '10', burst: '2' }, ['limits']);

    await until(() => events.length === 2);
    expect(events).toEqual([
      { componentName: 'com.selfcal.Test', keyPath: ['limits', 'maxRps'] },
      { componentName: 'com.selfcal.Test', keyPath: ['limits', 'burst'] },
    ]);
  });

  it('serves shadows like ShadowManager: ConflictError on a stale version, events on local pub/sub', async () => {
    const local: string[] = [];
    const op = client.subscribeToTopic({ topic: '$aws/things/gw1/shadow/name/cal/update/accepted' });
    op.on('message', (m) => local.push(Buffer.from(m.binaryMessage?.message as Buffer).toString()));
    await op.activate();
    await client.updateThingShadow({
      thingName: 'gw1',
      shadowName: 'cal',
      payload: '{"state":{"reported":{"a":1}}}',
    });

    const conflict = await rpcError(
      client.updateThingShadow({
        thingName: 'gw1',
        shadowName: 'cal',
        payload: '{"state":{"reported":{"a":2}},"version":7}',
      }),
    );

    expect(conflict.serviceError).toEqual({ message: 'Version conflict' });
    await until(() => local.length === 1);
    expect(JSON.parse(local[0]!)).toMatchObject({ state: { reported: { a: 1 } }, version: 1 });
  });

  it('answers a missing shadow with ResourceNotFoundError', async () => {
    const e = await rpcError(client.getThingShadow({ thingName: 'gw1', shadowName: 'none' }));

    expect(e.serviceError).toEqual({ message: 'No shadow found', resourceType: 'shadow' });
  });

  it('records UpdateState and counts live connections', async () => {
    await client.updateState({ state: greengrasscoreipc.model.ReportedLifecycleState.RUNNING });

    expect(nucleus.states).toEqual(['RUNNING']);
    expect(nucleus.connectionCount()).toBe(1);
  });
});
