/**
 * The estimator as a gateway runs it (its program under tsx, MQTT runtime, one trusted key), for the
 * integration tests that apply manifests through the device shadow.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { CALIBRATION_SHADOW } from '../../edge-components/calibration/contract';
import type { ShadowService } from '../../simulators/broker/index';

const REPO = resolve(__dirname, '../..');

export interface EstimatorProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  log: () => string;
  /** Its exit code (null: killed by a signal). */
  exit: Promise<number | null>;
  /** The calibration shadow's reported state, as the estimator last reported it. */
  reported: () => Record<string, unknown> | undefined;
}

export function startEstimatorProcess(o: {
  dbPath: string;
  thing: string;
  brokerUrl: string;
  clientId: string;
  /** The trusted public key (PEM) of key id `ops-1`. */
  pem: string;
  shadows: ShadowService;
}): EstimatorProcess {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', 'edge-components/estimator/main.ts'], {
    cwd: REPO,
    env: {
      ...process.env,
      SELFCAL_ESTIMATOR_CONFIG: JSON.stringify({
        dbPath: o.dbPath,
        thingName: o.thing,
        runtime: 'mqtt',
        mqtt: { brokerUrl: o.brokerUrl, clientId: o.clientId },
        calibration: { trustedKeys: { 'ops-1': o.pem } },
        pollIntervalMs: 50,
      }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const reported = () =>
    (
      o.shadows.getThingShadow(o.thing, CALIBRATION_SHADOW) as
        { state?: { reported?: Record<string, unknown> } } | undefined
    )?.state?.reported;
  return { child, log: () => log, exit, reported };
}
