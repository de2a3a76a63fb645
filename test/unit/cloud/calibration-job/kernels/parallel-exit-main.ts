/**
 * A child for parallel-likelihood.test.ts: evaluates members of a simulated day of the seed line on the
 * parallel evaluator (`threads` workers) and in this thread, prints `<backend> <threads> identical|differs`
 * and returns WITHOUT process.exit, disposing the evaluator (`dispose`) or leaving it idle (`keep`): the
 * process must end by itself either way. Run through tsx, and bundled with its worker entry by esbuild.
 */
import { ParallelTrendLikelihood } from '../../../../../cloud/calibration-job/kernels/parallel-likelihood';
import { frictionWindow } from '../../../../../twin/estimation/smc/recalibrate';
import { TrendLikelihoodReference, lineSetpoints } from '../../../../../twin/estimation/smc/trend-likelihood';
import { loadLine } from '../../../../../twin/lines/topology';
import { PlantSimulator } from '../../../../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../../../../simulators/plant/scenario';

async function main(mode: string, threads: number): Promise<void> {
  const topology = loadLine();
  const setpoints = lineSetpoints(topology);
  const scenario = defaultScenario({ seed: 2, durationS: 86400, samplePeriodS: 3600 });
  const readings = [...new PlantSimulator(topology, scenario).samples()].map((s) => s.reading);
  const { window } = frictionWindow(topology, readings, { bins: 4 });
  const reference = new TrendLikelihoodReference(topology, window, setpoints);
  const n = 37;
  const d = reference.dimTheta;
  const thetas = Float64Array.from({ length: n * d }, (_, i) =>
    i % d >= 3 && i % d < 3 + topology.idlers.length ? Math.log(0.002) + 0.1 * ((i * 7919) % 23) : 0,
  );
  const expected = new Float64Array(n);
  const got = new Float64Array(n);
  reference.evaluate(thetas, expected);
  const parallel = new ParallelTrendLikelihood(topology, window, setpoints, { threads });
  await parallel.evaluate(thetas, got);
  const same = Buffer.from(got.buffer).equals(Buffer.from(expected.buffer));
  process.stdout.write(`${parallel.backend} ${parallel.threads} ${same ? 'identical' : 'differs'}\n`);
  if (mode === 'dispose') await parallel.dispose();
}

const [mode = 'dispose', threads = '2'] = process.argv.slice(2);
main(mode, Number(threads)).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
