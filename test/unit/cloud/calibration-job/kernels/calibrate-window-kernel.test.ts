/**
 * A whole recalibration (calibrateWindow) with members evaluated by the WebAssembly kernel: it reports
 * the kernel class that ran, its posterior agrees with the float64 reference's for the same seed (not
 * bit-identical: the kernel's f32 ln L moves weights slightly), and it is deterministic.
 */
import {
  calibrateWindow,
  type CalibrationOutput,
} from '../../../../../cloud/calibration-job/calibrate-window';
import type { BackendRequest } from '../../../../../cloud/calibration-job/kernels/select';
import * as f from './fixtures';

const readings = f.plantReadings(9);
// 512 members: at 256 this window (R4 deep in gross slip) let one run take 16 tempering stages and the
// other 11, and b4's means landed 1.04 posterior std apart; at 512 they agree within 0.12 std.
const run = (backend: BackendRequest): Promise<CalibrationOutput> =>
  calibrateWindow(f.topology, readings, { particles: 512, seed: 17, backend, clock: () => 0 });

describe('calibrateWindow on the webasm kernel', () => {
  let kernel: CalibrationOutput;
  let reference: CalibrationOutput;
  beforeAll(async () => {
    kernel = await run('webasm');
    reference = await run('reference');
  });

  it('reports the kernel class that evaluated the members', () => {
    // Assess
    expect(kernel.diagnostics.backend).toBe('WebAssemblyKernel');
    expect(kernel.diagnostics.backendRequested).toBe('webasm');
    expect(kernel.diagnostics.fallbacks).toEqual([]);
    expect(reference.diagnostics.backend).toBe('typescript-reference');
  });

  it('gives a posterior close to the reference: every b mean within one posterior std', () => {
    // Assess
    for (const [name, p] of Object.entries(reference.parameters)) {
      const k = kernel.parameters[name]!;
      const std = Math.max(p.std, k.std);
      expect(Math.abs(k.mean - p.mean)).toBeLessThanOrEqual(std);
    }
    expect(kernel.health).toEqual(reference.health);
  });

  it('is deterministic: the same seed on the same backend gives identical output', async () => {
    // Act
    const again = await run('webasm');

    // Assess
    expect(again).toEqual(kernel);
  });
});
