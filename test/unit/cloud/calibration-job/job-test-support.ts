/**
 * In-process parts for the job's unit tests: plant-simulator readings behind a WindowSource, a
 * PosteriorSink and a ManifestChannel that keep what they get (the real SiteWise emulator and shadow
 * service are in test/integration/calibration-job*.test.ts), the real folder object store, and a config.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CalibrationOutput } from '../../../../cloud/calibration-job/calibrate-window';
import type {
  ManifestChannel,
  PosteriorSink,
  WindowSource,
} from '../../../../cloud/calibration-job/io/contracts';
import { FolderObjectStore } from '../../../../cloud/calibration-job/io/folder-store';
import type { JobIo } from '../../../../cloud/calibration-job/job';
import { parseJobConfig, type JobConfig } from '../../../../cloud/calibration-job/job-config';
import { keyIdOf, type SignedManifest } from '../../../../twin/calibration/manifest';
import type { Reading } from '../../../../twin/estimation/joint-estimator';
import { loadLine } from '../../../../twin/lines/topology';
import { PlantSimulator } from '../../../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../../../simulators/plant/scenario';

export const WINDOW_FROM_S = Date.UTC(2026, 5, 1) / 1000;
export const WINDOW_TO_S = WINDOW_FROM_S + 3600;
export const WINDOW = {
  from: new Date(WINDOW_FROM_S * 1000).toISOString(),
  to: new Date(WINDOW_TO_S * 1000).toISOString(),
};

/** One hour of the reference line (or `line`) at 30 s (121 readings), by scenario seed. */
export function plantReadings(
  seed: number,
  fromS = WINDOW_FROM_S,
  durationS = 3600,
  line = loadLine(),
): Reading[] {
  const sim = new PlantSimulator(
    line,
    defaultScenario({ seed, startTimeS: fromS, durationS, samplePeriodS: 30 }),
  );
  return [...sim.samples()].map((s) => s.reading);
}

export class MemoryWindowSource implements WindowSource {
  reads = 0;
  constructor(private readonly byLine: Record<string, Reading[]>) {}
  async readWindow(lineId: string, _signals: readonly string[], fromS: number, toS: number) {
    this.reads++;
    return (this.byLine[lineId] ?? []).filter((r) => r.ts >= fromS && r.ts <= toS);
  }
}

export class MemoryPosteriorSink implements PosteriorSink {
  readonly writes: { lineId: string; atS: number; output: CalibrationOutput }[] = [];
  async writePosterior(lineId: string, atS: number, output: CalibrationOutput) {
    this.writes.push({ lineId, atS, output });
    return Object.keys(output.parameters).length;
  }
}

export class MemoryManifestChannel implements ManifestChannel {
  readonly shadows = new Map<string, SignedManifest>();
  published = 0;
  async current(thingName: string) {
    return this.shadows.get(thingName);
  }
  async publish(thingName: string, signed: SignedManifest) {
    this.published++;
    this.shadows.set(thingName, structuredClone(signed));
  }
  async close() {}
}

export interface UnitRig {
  dir: string;
  io: JobIo & { source: MemoryWindowSource; sink: MemoryPosteriorSink; channel: MemoryManifestChannel };
  store: FolderObjectStore;
  signer: { key: KeyObject; keyId: string };
  publicKey: KeyObject;
  config(overrides?: Record<string, unknown>): JobConfig;
  close(): void;
}

export function unitRig(readings: Record<string, Reading[]>): UnitRig {
  const dir = mkdtempSync(join(tmpdir(), 'job-unit-'));
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const store = new FolderObjectStore(join(dir, 'store'));
  return {
    dir,
    store,
    io: {
      store,
      source: new MemoryWindowSource(readings),
      sink: new MemoryPosteriorSink(),
      channel: new MemoryManifestChannel(),
    },
    signer: { key: privateKey, keyId: keyIdOf(privateKey) },
    publicKey,
    config: (overrides = {}) =>
      parseJobConfig({
        fleet: Object.keys(readings).map((lineId) => ({ lineId, thingName: `gw-${lineId}` })),
        window: WINDOW,
        particles: 128,
        seed: 7,
        backend: 'reference',
        objectStore: { type: 'folder', path: join(dir, 'store') },
        sitewise: {},
        shadow: { type: 'iot-data' },
        signing: { keyFile: join(dir, 'unused.key') },
        ...overrides,
      }),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
