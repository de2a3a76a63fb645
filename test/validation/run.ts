/**
 * `npm run validate`: the statistical validation of the cloud recalibration over seeded plant scenarios
 * (issue 6 acceptance). Progress per scenario on stderr, the JSON summary on stdout and, with every case,
 * in the --out file; exit code 1 when an acceptance bound is missed (each one listed), 0 otherwise.
 *
 *   npx tsx test/validation/run.ts [--scenarios 50] [--particles 1024] [--seed 1] [--jobs 2]
 *                                  [--backend NAME] [--line ID|PATH] [--out validation-results/validation.json]
 */
import { BACKEND_REQUESTS, type BackendRequest } from '../../cloud/calibration-job/kernels/select';
import { exitWhenWebGpuIdle } from '../../cloud/calibration-job/kernels/gpu-backends';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SelfcalError } from '../../twin/errors';
import { loadLine } from '../../twin/lines/topology';
import { ACCEPTANCE, acceptanceMisses, summarise } from './metrics';
import { runScenarios } from './pool';
import { EXCLUSION_BAND_NMS, drawScenarios } from './scenarios';

function backendOf(raw: string | undefined): BackendRequest | undefined {
  if (raw === undefined || (BACKEND_REQUESTS as readonly string[]).includes(raw)) {
    return raw as BackendRequest | undefined;
  }
  throw new SelfcalError(
    'CLI_ARGUMENT_INVALID',
    `--backend must be one of ${BACKEND_REQUESTS.join(', ')}, got '${raw}'`,
  );
}

/** The run's configuration from argv; throws CLI_ARGUMENT_INVALID naming the option. */
export function parseValidationArgs(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenarios: { type: 'string', default: '50' },
      particles: { type: 'string', default: '1024' },
      seed: { type: 'string', default: '1' },
      jobs: { type: 'string', default: String(Math.min(2, availableParallelism())) },
      backend: { type: 'string' },
      line: { type: 'string' },
      out: { type: 'string', default: 'validation-results/validation.json' },
    },
    strict: true,
  });
  const int = (name: 'scenarios' | 'particles' | 'seed' | 'jobs', min: number) => {
    const raw = values[name] as string;
    const v = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(v) || v < min) {
      throw new SelfcalError('CLI_ARGUMENT_INVALID', `--${name} must be an integer ≥ ${min}, got '${raw}'`);
    }
    return v;
  };
  return {
    scenarios: int('scenarios', 1),
    particles: int('particles', 2),
    seed: int('seed', 0),
    jobs: int('jobs', 0),
    backend: backendOf(values.backend),
    ...(values.line ? { line: values.line as string } : {}),
    out: resolve(values.out as string),
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main(): Promise<number> {
  const config = parseValidationArgs(process.argv.slice(2));
  const topology = config.line ? loadLine(config.line) : loadLine();
  const scenarios = drawScenarios(config.scenarios, config.seed, topology);
  const started = Date.now();
  process.stderr.write(
    `validation: ${config.scenarios} scenarios, ${config.particles} particles, seed ${config.seed}, ` +
      `${config.jobs} job(s)\n`,
  );
  const results = await runScenarios(scenarios, {
    particles: config.particles,
    seed: config.seed,
    jobs: config.jobs,
    ...(config.backend ? { backend: config.backend } : {}),
    ...(config.line ? { line: config.line } : {}),
    onResult: (r, done, total) => {
      const elapsed = Date.now() - started;
      const eta = (elapsed / done) * (total - done);
      const flagged = r.rollers.filter((c) => c.health === 'degraded').map((c) => c.roller);
      const truth = r.rollers.filter((c) => c.trulyDegraded).map((c) => c.roller);
      process.stderr.write(
        `scenario ${done}/${total} (#${r.index}): sim ${seconds(r.simulateMs)}, calibrate ` +
          `${seconds(r.calibrateMs)}; degraded true [${truth.join(' ')}] flagged [${flagged.join(' ')}]; ` +
          `elapsed ${seconds(elapsed)}, ETA ${seconds(eta)}\n`,
      );
    },
  });
  const summary = summarise(results);
  const misses = acceptanceMisses(summary);
  const report = {
    config: { ...config, out: undefined, line: topology.line.id, exclusionBandNms: EXCLUSION_BAND_NMS },
    acceptance: ACCEPTANCE,
    acceptanceRun: config.scenarios >= 50,
    summary,
    misses,
    wallS: (Date.now() - started) / 1000,
  };
  mkdirSync(dirname(config.out), { recursive: true });
  writeFileSync(config.out, `${JSON.stringify({ ...report, scenarios, results }, null, 2)}\n`);
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
