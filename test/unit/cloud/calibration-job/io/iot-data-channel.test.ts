/**
 * The HTTP front of the shadow service as the real IoTDataPlaneClient sees it (named and classic
 * shadows, AWS's error names and statuses), and what only the data-plane channel has.
 */
import { createServer, type AddressInfo } from 'node:net';
import {
  DeleteThingShadowCommand,
  GetThingShadowCommand,
  UpdateThingShadowCommand,
  type IoTDataPlaneClient,
} from '@aws-sdk/client-iot-data-plane';
import { IotDataManifestChannel } from '../../../../../cloud/calibration-job/io/iot-data-channel';
import {
  startLocalBroker,
  startShadowService,
  type LocalBroker,
  type ShadowService,
} from '../../../../../simulators/broker';
import {
  createIotDataClient,
  startShadowHttp,
  type ShadowHttp,
} from '../../../../../simulators/broker/shadow-http';
import { signedManifest } from './manifest-channel.conformance';

describe('shadow HTTP front through the real IoTDataPlaneClient', () => {
  let broker: LocalBroker;
  let service: ShadowService;
  let http: ShadowHttp;
  let client: IoTDataPlaneClient;
  beforeEach(async () => {
    broker = await startLocalBroker();
    service = await startShadowService({ brokerUrl: broker.url });
    http = await startShadowHttp({ service });
    client = createIotDataClient(http.endpoint, { maxAttempts: 1 });
  });
  afterEach(async () => {
    client.destroy();
    await http.close();
    await service.close();
    await broker.close();
  });

  const json = (o: unknown) => Buffer.from(JSON.stringify(o));
  const parse = (p: Uint8Array | undefined) =>
    JSON.parse(Buffer.from(p ?? []).toString()) as Record<string, unknown>;

  it('updates and gets named and classic shadows with the document as the payload', async () => {
    // Act
    const named = await client.send(
      new UpdateThingShadowCommand({
        thingName: 'gw-1',
        shadowName: 'cal',
        payload: json({ state: { desired: { a: 1 } } }),
      }),
    );
    await client.send(
      new UpdateThingShadowCommand({ thingName: 'gw-1', payload: json({ state: { reported: { b: 2 } } }) }),
    );
    const gotNamed = await client.send(new GetThingShadowCommand({ thingName: 'gw-1', shadowName: 'cal' }));
    const gotClassic = await client.send(new GetThingShadowCommand({ thingName: 'gw-1' }));

    // Assess
    expect(parse(named.payload)).toMatchObject({ state: { desired: { a: 1 } }, version: 1 });
    expect(parse(gotNamed.payload)).toMatchObject({
      state: { desired: { a: 1 }, delta: { a: 1 } },
      version: 1,
    });
    expect(parse(gotClassic.payload)).toMatchObject({ state: { reported: { b: 2 } } });
    expect(parse(gotClassic.payload).state).not.toHaveProperty('desired');
  });

  it("answers AWS's errors: 404 ResourceNotFound, 409 Conflict, 400 InvalidRequest, 413 RequestEntityTooLarge", async () => {
    // Prepare
    await client.send(
      new UpdateThingShadowCommand({
        thingName: 'gw-1',
        shadowName: 'cal',
        payload: json({ state: { desired: { a: 1 } } }),
      }),
    );

    // Act
    const results = await Promise.allSettled([
      client.send(new GetThingShadowCommand({ thingName: 'gw-2', shadowName: 'cal' })),
      client.send(
        new UpdateThingShadowCommand({
          thingName: 'gw-1',
          shadowName: 'cal',
          payload: json({ state: { desired: { a: 2 } }, version: 7 }),
        }),
      ),
      client.send(
        new UpdateThingShadowCommand({
          thingName: 'gw-1',
          shadowName: 'cal',
          payload: Buffer.from('{not json'),
        }),
      ),
      client.send(
        new UpdateThingShadowCommand({
          thingName: 'gw-1',
          shadowName: 'cal',
          payload: json({ state: { desired: { big: 'x'.repeat(9000) } } }),
        }),
      ),
      client.send(new DeleteThingShadowCommand({ thingName: 'gw-1', shadowName: 'cal' })),
    ]);

    // Assess
    const errors = results.map((r) =>
      r.status === 'rejected'
        ? [
            (r.reason as Error).name,
            (r.reason as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode,
          ]
        : 'ok',
    );
    expect(errors).toEqual([
      ['ResourceNotFoundException', 404],
      ['ConflictException', 409],
      ['InvalidRequestException', 400],
      ['RequestEntityTooLargeException', 413],
      ['MethodNotAllowedException', 405],
    ]);
    expect(service.getThingShadow('gw-1', 'cal')).toMatchObject({ state: { desired: { a: 1 } }, version: 1 });
  });

  it('reports an unreachable endpoint as SHADOW_FAILED from the channel', async () => {
    // Prepare: an endpoint that hangs up every connection at once. It stays bound for the test, so no other
    // process (a parallel jest worker) can take its port and answer, as could happen to a closed port.
    const unreachable = createServer((socket) => socket.destroy());
    await new Promise<void>((r) => unreachable.listen(0, '127.0.0.1', () => r()));
    const { port } = unreachable.address() as AddressInfo;
    const deadClient = createIotDataClient(`http://127.0.0.1:${port}`, { maxAttempts: 1 });
    const channel = new IotDataManifestChannel({ client: deadClient });

    try {
      // Act + Assess
      await expect(channel.publish('gw-1', signedManifest(1, 1))).rejects.toMatchObject({
        code: 'SHADOW_FAILED',
      });
      await expect(channel.current('gw-1')).rejects.toMatchObject({ code: 'SHADOW_FAILED' });
    } finally {
      deadClient.destroy();
      await new Promise<void>((r) => unreachable.close(() => r()));
    }
  });
});
