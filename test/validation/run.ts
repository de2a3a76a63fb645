/**
 * `npm run validate`: the statistical validation of the cloud recalibration over seeded plant scenarios
 * (issue 6 acceptance). Progress per scenario on stderr, the JSON summary on stdout and, with every case,
 * in the --out file; exit code 1 when an acceptance bound is missed (each one listed), 0 otherwise.
 *
 *   npx tsx test/validation/run.ts [--scenarios 50] [--mismatch 12] [--particles 1024] [--seed 1] [--jobs 2]
 *                                  [--threads N] [--backend NAME] [--line ID|PATH]
 *                                  [--plant fmu:FILE.fmu --map MAP.json [--trust-fmu]]
 *                                  [--out validation-results/validation.json]
 *
 * `--plant fmu:FILE.fmu --map MAP.json`: the scenarios run on an FMU of the line (simulators/fmi, docs/fmi.md
 * "The FMU as the plant") instead of the built-in plant simulator; the spans scored are those whose
 * tension the map outputs.
 *
 * `--threads`: worker threads of each scenario's recalibration (the TypeScript reference, `auto` without a
 * GPU); default max(1, ⌊cores / jobs⌋), so that jobs × threads does not oversubscribe the cores.
 *
 * After the matching scenarios, `--mismatch` scenarios the line description cannot explain (another
 * control structure, swapped speed channels, a load cell's gain error; scenarios.ts): each must end as a
 * misfit or a suspect sensor with no confident wrong verdict.
 */
import { BACKEND_REQUESTS, type BackendRequest } from '../../cloud/calibration-job/kernels/select';
import { exitWhenWebGpuIdle } from '../../cloud/calibration-job/kernels/gpu-backends';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SelfcalError } from '../../twin/errors';
import { loadLineFrom } from '../../platform/line-file';
import { parsePlantChoice } from '../../simulators/fmi/plant-choice';
import { ACCEPTANCE, acceptanceMisses, mismatchMisses, summarise, summariseMismatch } from './metrics';
import { runScenarios } from './pool';
import type { ScenarioResult } from './run-scenario';
import {
  EXCLUSION_BAND_NMS,
  drawMismatchScenarios,
  drawScenarios,
  type ValidationScenario,
} from './scenarios';

function backendOf(raw: string | undefined): BackendRequest | undefined {
  if (raw === undefined || (BACKEND_REQUESTS as readonly string[]).includes(raw)) {
    return raw as BackendRequest | undefined;
  }
  throw new SelfcalError(
    'CLI_ARGUMENT_INVALID',
    `--backend must be one of ${BACKEND_REQUESTS.join(', ')}, got '${raw}'`,
  );
}

/** Threads per scenario: the cores shared among the jobs (jobs 0 runs one scenario at a time here). */
export function defaultThreads(jobs: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / Math.max(1, jobs)));
}

/** The run's configuration from argv; throws CLI_ARGUMENT_INVALID naming the option. */
export function parseValidationArgs(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenarios: { type: 'string', default: '50' },
      mismatch: { type: 'string', default: '12' },
      particles: { type: 'string', default: '1024' },
      seed: { type: 'string', default: '1' },
      jobs: { type: 'string', default: String(Math.min(2, availableParallelism())) },
      threads: { type: 'string' },
      backend: { type: 'string' },
      line: { type: 'string' },
      plant: { type: 'string' },
      map: { type: 'string' },
      'trust-fmu': { type: 'boolean' },
      out: { type: 'string', default: 'validation-results/validation.json' },
    },
    strict: true,
  });
  const int = (name: 'scenarios' | 'mismatch' | 'particles' | 'seed' | 'jobs' | 'threads', min: number) => {
    const raw = values[name] as string;
    const v = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(v) || v < min) {
      throw new SelfcalError('CLI_ARGUMENT_INVALID', `--${name} must be an integer ≥ ${min}, got '${raw}'`);
    }
    return v;
  };
  const jobs = int('jobs', 0);
  return {
    scenarios: int('scenarios', 1),
    mismatch: int('mismatch', 0),
    particles: int('particles', 2),
    seed: int('seed', 0),
    jobs,
    threads: values.threads === undefined ? defaultThreads(jobs) : int('threads', 1),
    backend: backendOf(values.backend),
    ...(values.line ? { line: values.line as string } : {}),
    plant: parsePlantChoice({
      ...(values.plant === undefined ? {} : { plant: values.plant as string }),
      ...(values.map === undefined ? {} : { map: values.map as string }),
      trustFmu: values['trust-fmu'] === true,
    }),
    out: resolve(values.out as string),
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** One scenario's progress line: timings, truth against verdicts, the fit when not ok, the ETA. */
function progressLine(r: ScenarioResult, started: number, done: number, total: number): string {
  const elapsed = Date.now() - started;
  const eta = (elapsed / done) * (total - done);
  const flagged = r.rollers.filter((c) => c.health === 'degraded').map((c) => c.roller);
  const truth = r.rollers.filter((c) => c.trulyDegraded).map((c) => c.roller);
  const fit =
    r.fit.status === 'ok'
      ? ''
      : `; fit ${r.fit.status}${r.fit.suspectSensors.length ? ` (suspect ${r.fit.suspectSensors.join(' ')})` : ''}`;
  return (
    `(#${r.index}): sim ${seconds(r.simulateMs)}, calibrate ${seconds(r.calibrateMs)}; ` +
    `degraded true [${truth.join(' ')}] flagged [${flagged.join(' ')}]${fit}; ` +
    `elapsed ${seconds(elapsed)}, ETA ${seconds(eta)}`
  );
}

async function main(): Promise<number> {
  const config = parseValidationArgs(process.argv.slice(2));
  const topology = loadLineFrom(config.line);
  const scenarios = drawScenarios(config.scenarios, config.seed, topology);
  // Drawn before anything runs, so that a line without the mismatches is refused up front.
  const mismatchScenarios = drawMismatchScenarios(config.mismatch, config.seed, topology);
  const control = mismatchScenarios.find((s) => s.mismatch.kind === 'control');
  if (control && config.plant.kind === 'fmu') {
    throw new SelfcalError(
      'CLI_ARGUMENT_INVALID',
      `mismatch scenario ${control.index} changes the plant's control structure, which an FMU plant fixes (--mismatch 0)`,
    );
  }
  const started = Date.now();
  process.stderr.write(
    `validation: ${config.scenarios} scenarios, ${config.particles} particles, seed ${config.seed}, ` +
      `${config.jobs} job(s) × ${config.threads} thread(s), then ${config.mismatch} mismatch scenarios\n`,
  );
  const run = (list: readonly ValidationScenario[], label: string) => {
    const begun = Date.now();
    return runScenarios(list, {
      particles: config.particles,
      seed: config.seed,
      jobs: config.jobs,
      threads: config.threads,
      ...(config.backend ? { backend: config.backend } : {}),
      ...(config.line ? { line: config.line } : {}),
      plant: config.plant,
      onResult: (r, done, total) =>
        process.stderr.write(`${label} ${done}/${total} ${progressLine(r, begun, done, total)}\n`),
    });
  };
  const results = await run(scenarios, 'scenario');
  const mismatchResults = config.mismatch > 0 ? await run(mismatchScenarios, 'mismatch') : [];
  const summary = summarise(results);
  const mismatch = summariseMismatch(mismatchResults, topology.line.health.suspectAboveNms);
  const misses = [...acceptanceMisses(summary), ...(config.mismatch > 0 ? mismatchMisses(mismatch) : [])];
  const report = {
    config: { ...config, out: undefined, line: topology.line.id, exclusionBandNms: EXCLUSION_BAND_NMS },
    acceptance: ACCEPTANCE,
    acceptanceRun: config.scenarios >= 50,
    summary,
    mismatch,
    misses,
    wallS: (Date.now() - started) / 1000,
  };
  mkdirSync(dirname(config.out), { recursive: true });
  writeFileSync(
    config.out,
    `${JSON.stringify({ ...report, scenarios, results, mismatchScenarios, mismatchResults }, null, 2)}\n`,
  );
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if (!report.acceptanceRun) process.stderr.write('note: fewer than 50 scenarios is not an acceptance run\n');
  for (const m of misses) process.stderr.write(`MISSED: ${m}\n`);
  process.stderr.write(`written ${config.out}\n`);
  return misses.length ? 1 : 0;
}

if (require.main === module) {
  // With --jobs 0 --backend gpu the scenarios run in this process: exit once the device is destroyed.
  main().then(
    (code) => exitWhenWebGpuIdle(code),
    (e: unknown) => {
      const code = e instanceof SelfcalError ? ` [${e.code}]` : '';
      process.stderr.write(`validation failed${code}: ${e instanceof Error ? e.message : String(e)}\n`);
      return exitWhenWebGpuIdle(2);
    },
  );
}
