/**
 * The recalibration reaches an FMU only through a pool its caller opens (`fmuModel`), so its own modules
 * must not pull in the FMI runtime's native binding (koffi): the device GPU check bundles them with every
 * package inside and ran without koffi's native module — a value import of `platform/fmi` from the
 * FMU-model reference once broke that bundle at load ("Cannot find the native Koffi module").
 */
import { build } from 'esbuild';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..', '..');

async function bundledInputs(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    platform: 'node',
    target: 'node20',
    external: ['gpu.js', 'webgpu'],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs);
}

describe('the recalibration without the native FMI binding', () => {
  it.each([
    'cloud/calibration-job/calibrate-window.ts',
    'test/unit/cloud/calibration-job/kernels/gpu-check-main.ts',
  ])('%s bundles without koffi', async (entry) => {
    const inputs = await bundledInputs(entry);
    expect(inputs.some((i) => i.includes('cloud/calibration-job/fmu-ukf-reference.ts'))).toBe(true);
    expect(inputs.filter((i) => i.includes('node_modules/koffi'))).toEqual([]);
  });

  it('the job entry does bundle it (the check above can see koffi where it is imported)', async () => {
    const inputs = await bundledInputs('cloud/calibration-job/main.ts');
    expect(inputs.some((i) => i.includes('node_modules/koffi'))).toBe(true);
  });
});
