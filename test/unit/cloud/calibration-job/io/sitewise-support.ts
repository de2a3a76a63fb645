/** Shared parts of the SiteWise I/O tests: the emulator at a fixed "now", seeding history through the SDK. */
import { BatchPutAssetPropertyValueCommand, type IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';
import type { CalibrationOutput } from '../../../../../cloud/calibration-job/calibrate-window';

export {
  NOW_S,
  createLineAsset,
  startFixture,
  type Fixture,
} from '../../../simulators/sitewise/emulator-fixture';

export const LINE = 'line-a';
export const aliasOf = (signal: string, line = LINE) => `/selfcal/${line}/${signal}`;

export interface SeedPoint {
  signal: string;
  ts: number;
  value: number;
  quality?: 'GOOD' | 'BAD' | 'UNCERTAIN';
}

/** Writes points through BatchPutAssetPropertyValue (10 entries × 1 value per call); fails on any error entry. */
export async function seed(
  client: IoTSiteWiseClient,
  points: readonly SeedPoint[],
  line = LINE,
): Promise<void> {
  for (let i = 0; i < points.length; i += 10) {
    const entries = points.slice(i, i + 10).map((p, j) => {
      const s = Math.floor(p.ts);
      return {
        entryId: `e${j}`,
        propertyAlias: aliasOf(p.signal, line),
        propertyValues: [
          {
            value: { doubleValue: p.value },
            timestamp: { timeInSeconds: s, offsetInNanos: Math.round((p.ts - s) * 1e9) },
            quality: p.quality ?? 'GOOD',
          },
        ],
      };
    });
    const out = await client.send(new BatchPutAssetPropertyValueCommand({ entries }));
    if ((out.errorEntries ?? []).length > 0)
      throw new Error(`seed failed: ${JSON.stringify(out.errorEntries)}`);
  }
}

/** A calibration output with two bearings, the line's traction scale and EA, three rollers' health and two virtual sensors. */
export function sampleOutput(overrides: Partial<CalibrationOutput['parameters']> = {}): CalibrationOutput {
  return {
    parameters: {
      b1: { mean: 0.001, std: 0.0002, p05: 0.0007, p95: 0.0013 },
      b4: { mean: 0.21, std: 0.03, p05: 0.16, p95: 0.26 },
      ...overrides,
    } as CalibrationOutput['parameters'],
    line: {
      tractionScale: { mean: 1.02, std: 0.05, p05: 0.94, p95: 1.1 },
      eaN: { mean: 4.1e5, std: 1e4, p05: 3.9e5, p95: 4.3e5 },
    },
    health: { R1: 'healthy', R4: 'degraded', R9: 'suspect' },
    fit: {
      horizonS: 86400,
      qMin: 64,
      dof: 128,
      ok: true,
      signals: { S5_Tension_N: { q: 4, share: 0.0625, dof: 8, meanZ: -0.5, rmsZ: 0.7 } },
      horizonsTried: 1,
      status: 'ok',
      accepted: false,
      zones: [],
      loadCells: [],
      swaps: [],
      suspectSensors: [],
    },
    warnings: [],
    virtual: {
      S5_Tension_N_virtual: { mean: 98.5, std: 0.4 },
      Roller9_SlipVelocity_mps_virtual: { mean: 0.0012, std: 0.0003 },
    },
    // The sink does not read the diagnostics (and their shape is the engine's business).
    diagnostics: {} as CalibrationOutput['diagnostics'],
  };
}

/** Every SiteWise name sampleOutput() must produce, with its value. */
export const SAMPLE_VALUES: Record<string, number> = {
  b1: 0.001,
  b1_std: 0.0002,
  b1_p05: 0.0007,
  b1_p95: 0.0013,
  b4: 0.21,
  b4_std: 0.03,
  b4_p05: 0.16,
  b4_p95: 0.26,
  mu_scale: 1.02,
  mu_scale_std: 0.05,
  mu_scale_p05: 0.94,
  mu_scale_p95: 1.1,
  ea_N: 4.1e5,
  ea_N_std: 1e4,
  ea_N_p05: 3.9e5,
  ea_N_p95: 4.3e5,
  Roller1_health: 0,
  Roller4_health: 2,
  Roller9_health: 1,
  S5_Tension_N_virtual: 98.5,
  S5_Tension_N_virtual_std: 0.4,
  Roller9_SlipVelocity_mps_virtual: 0.0012,
  Roller9_SlipVelocity_mps_virtual_std: 0.0003,
  line_fit_ok: 1,
  line_fit_status: 0,
  line_fit_q_per_dof: 0.5,
  S5_Tension_N_residual_z: -0.5,
  S5_Tension_N_residual_rms: 0.7,
  S5_Tension_N_suspect: 0,
};
