/**
 * One conformance suite for both EdgeRuntime implementations: the standalone MQTT runtime against aedes
 * plus the local shadow service, and the Greengrass IPC runtime through the real aws-iot-device-sdk-v2
 * client against the wire-level fake nucleus.
 */
import type { EdgeRuntime, JsonObject } from '../../../../edge-components/runtime/contract';
import { RuntimeError } from '../../../../edge-components/runtime/errors';
import { INITIAL_CONFIG, IPC_HARNESS, MQTT_HARNESS, type RuntimeHarness } from './runtime-harness';

jest.setTimeout(15_000);

/** Resolves when `predicate` holds, polling; fails the test after `timeoutMs`. */
async function eventually(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

async function expectRuntimeError(
  promise: Promise<unknown>,
  codes: RuntimeError['code'][],
): Promise<RuntimeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RuntimeError);
  expect(codes).toContain((error as RuntimeError).code);
  return error as RuntimeError;
}

describe.each([MQTT_HARNESS, IPC_HARNESS])('EdgeRuntime conformance: $name', (factory) => {
  let harness: RuntimeHarness;
  let runtime: EdgeRuntime;

  beforeEach(async () => {
    harness = await factory.start();
    runtime = harness.runtime;
  });
  afterEach(async () => {
    await harness.close();
  });

  it('reports its kind and thing name', () => {
    expect(runtime.kind).toBe(factory.name);
    expect(runtime.thingName).toBe('gw-conformance');
  });

  describe('local pub/sub', () => {
    it('delivers a published message to an exact subscription', async () => {
      const got: [string, JsonObject][] = [];
      await runtime.local.subscribe('conformance/a/b', (t, m) => got.push([t, m]));

      await runtime.local.publish('conformance/a/b', { n: 1 });

      await eventually(() => got.length === 1);
      expect(got[0]).toEqual(['conformance/a/b', { n: 1 }]);
    });

    it('matches + and # wildcards and reports the concrete topic', async () => {
      const plus: string[] = [];
      const hash: string[] = [];
      await runtime.local.subscribe('conformance/+/telemetry', (t) => plus.push(t));
      await runtime.local.subscribe('conformance/lines/#', (t) => hash.push(t));

      await runtime.local.publish('conformance/L1/telemetry', { a: 1 });
      await runtime.local.publish('conformance/lines/L2/telemetry', { a: 2 });
      await runtime.local.publish('conformance/L1/other', { a: 3 });

      await eventually(() => plus.length >= 1 && hash.length >= 1);
      await settle();
      expect(plus).toEqual(['conformance/L1/telemetry']);
      expect(hash).toEqual(['conformance/lines/L2/telemetry']);
    });

    it('keeps JSON values exactly (nesting, unicode, numbers, null, arrays)', async () => {
      const message: JsonObject = {
        ts: 1_764_000_000.125,
        values: { S5_Tension_N: 101.25, tiny: 1e-300, negative: -0.5, big: 2 ** 53 - 1 },
        quality: 'GOOD',
        text: 'Zugspannung ✓ — 張力',
        flags: [true, false, null, [1, [2, { deep: 'x' }]]],
        empty: {},
      };
      const got: JsonObject[] = [];
      await runtime.local.subscribe('conformance/fidelity', (_t, m) => got.push(m));

      await runtime.local.publish('conformance/fidelity', message);

      await eventually(() => got.length === 1);
      expect(got[0]).toEqual(message);
    });

    it('delivers messages on one topic in publish order', async () => {
      const got: number[] = [];
      await runtime.local.subscribe('conformance/order', (_t, m) => got.push(m.i as number));

      for (let i = 0; i < 30; i++) await runtime.local.publish('conformance/order', { i });

      await eventually(() => got.length === 30);
      expect(got).toEqual([...Array(30).keys()]);
    });

    it('stops delivering to a closed subscription and keeps the others (close is idempotent)', async () => {
      const first: number[] = [];
      const second: number[] = [];
      const s1 = await runtime.local.subscribe('conformance/shared', (_t, m) => first.push(m.i as number));
      await runtime.local.subscribe('conformance/shared', (_t, m) => second.push(m.i as number));
      await runtime.local.publish('conformance/shared', { i: 1 });
      await eventually(() => first.length === 1 && second.length === 1);

      await s1.close();
      await s1.close();
      await runtime.local.publish('conformance/shared', { i: 2 });

      await eventually(() => second.length === 2);
      await settle();
      expect(first).toEqual([1]);
      expect(second).toEqual([1, 2]);
    });

    it('refuses an unauthorized subscription with RUNTIME_UNAUTHORIZED', async () => {
      await expectRuntimeError(
        runtime.local.subscribe('forbidden/topic', () => undefined),
        ['RUNTIME_UNAUTHORIZED'],
      );
    });
  });

  describe('cloud pub/sub', () => {
    it('round-trips a JSON message through the cloud side', async () => {
      const got: [string, JsonObject][] = [];
      await runtime.cloud.subscribe('conformance/cloud/#', (t, m) => got.push([t, m]));

      await runtime.cloud.publish('conformance/cloud/drift', { lineId: 'L1', score: 3.5 });

      await eventually(() => got.length === 1);
      expect(got[0]).toEqual(['conformance/cloud/drift', { lineId: 'L1', score: 3.5 }]);
    });
  });

  describe('device shadow', () => {
    it('returns undefined for a shadow that does not exist', async () => {
      await expect(runtime.shadow.get('absent')).resolves.toBeUndefined();
    });

    it('merges reported state and bumps the version', async () => {
      await runtime.shadow.updateReported('cal', { appliedVersion: 3, status: 'applied' });
      await runtime.shadow.updateReported('cal', { status: 'verified' });

      const doc = await runtime.shadow.get('cal');

      expect(doc?.state.reported).toEqual({ appliedVersion: 3, status: 'verified' });
      expect(doc?.state.desired).toBeUndefined();
      expect(doc?.version).toBe(2);
    });

    it('fires onDelta with the delta and version when the cloud sets desired', async () => {
      await runtime.shadow.updateReported('cal', { appliedVersion: 3, mode: 'auto' });
      const deltas: [JsonObject, number][] = [];
      await runtime.shadow.onDelta('cal', (delta, version) => deltas.push([delta, version]));

      await harness.setDesired('cal', { appliedVersion: 4, mode: 'auto' });

      await eventually(() => deltas.length === 1);
      expect(deltas[0]).toEqual([{ appliedVersion: 4 }, 2]);
      const doc = await runtime.shadow.get('cal');
      expect(doc?.state.desired).toEqual({ appliedVersion: 4, mode: 'auto' });
      expect(doc?.state.delta).toEqual({ appliedVersion: 4 });
    });

    it('does not fire onDelta when desired equals reported', async () => {
      await runtime.shadow.updateReported('cal', { appliedVersion: 4 });
      const deltas: JsonObject[] = [];
      await runtime.shadow.onDelta('cal', (delta) => deltas.push(delta));

      await harness.setDesired('cal', { appliedVersion: 4 });
      await harness.setDesired('cal', { appliedVersion: 5 });

      await eventually(() => deltas.length === 1);
      await settle();
      expect(deltas).toEqual([{ appliedVersion: 5 }]);
    });
  });

  describe('component configuration', () => {
    it('reads the whole configuration', async () => {
      await expect(runtime.configuration.get()).resolves.toEqual(INITIAL_CONFIG);
    });

    it('calls onChange with the whole new configuration', async () => {
      const seen: JsonObject[] = [];
      await runtime.configuration.onChange((c) => seen.push(c));

      await harness.setConfiguration({ lineId: 'L1', limits: { maxRps: '10' } });

      await eventually(() => seen.length >= 1);
      expect(seen.at(-1)).toEqual({ lineId: 'L1', limits: { maxRps: '10' } });
      await expect(runtime.configuration.get()).resolves.toEqual({ lineId: 'L1', limits: { maxRps: '10' } });
    });
  });

  describe('connection loss', () => {
    it('reconnects after the server drops the connection; subscriptions survive', async () => {
      const local: number[] = [];
      const cloud: number[] = [];
      const deltas: JsonObject[] = [];
      await runtime.local.subscribe('conformance/survive', (_t, m) => local.push(m.i as number));
      await runtime.cloud.subscribe('conformance/cloud-survive', (_t, m) => cloud.push(m.i as number));
      await runtime.shadow.onDelta('cal', (d) => deltas.push(d));

      await harness.dropConnections();

      // Publishes right after the drop may race the resubscription: probe until one arrives.
      let i = 0;
      await eventually(async () => {
        await runtime.local.publish('conformance/survive', { i: i++ });
        await settle(50);
        return local.length > 0;
      }, 8000);
      await runtime.cloud.publish('conformance/cloud-survive', { i: 1 });
      await eventually(() => cloud.length > 0);
      await harness.setDesired('cal', { want: 1 });
      await eventually(() => deltas.length === 1);
      expect(deltas[0]).toEqual({ want: 1 });
      await runtime.shadow.updateReported('cal', { want: 1 });
      await expect(runtime.shadow.get('cal')).resolves.toMatchObject({ state: { reported: { want: 1 } } });
    });
  });

  describe('lifecycle and errors', () => {
    it('accepts reportState', async () => {
      await expect(runtime.reportState('RUNNING')).resolves.toBeUndefined();
    });

    it('closes idempotently and refuses work afterwards with RUNTIME_CLOSED', async () => {
      await runtime.close();
      await runtime.close();

      await expectRuntimeError(runtime.local.publish('conformance/x', { a: 1 }), ['RUNTIME_CLOSED']);
    });

    it('fails to start with RUNTIME_CONNECT_FAILED when nothing listens', async () => {
      await expectRuntimeError(harness.startAgainstNothing(), ['RUNTIME_CONNECT_FAILED']);
    });

    it('fails to start with RUNTIME_UNAUTHORIZED on rejected credentials', async () => {
      await expectRuntimeError(harness.startWithBadCredentials(), ['RUNTIME_UNAUTHORIZED']);
    });

    it('fails to start with RUNTIME_TIMEOUT when the server never answers', async () => {
      const silent = await harness.startAgainstSilentServer();
      try {
        await expectRuntimeError(silent.attempt, ['RUNTIME_TIMEOUT']);
      } finally {
        await silent.stop();
      }
    });
  });
});
