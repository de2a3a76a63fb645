import packageJson from '../package.json';
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { SelfcalError } from '../twin/errors';
import type { LineTopology } from '../twin/lines/topology';
import { isLineFilePath, loadLineFrom } from '../platform/line-file';
import { readingsToCsv, type Reading } from '../simulators/plant/plant-simulator';
import {
  openPlant,
  parsePlantChoice,
  type Plant,
  type PlantChoice,
  type PlantCliOptions,
} from '../simulators/fmi/plant-choice';
import { runSitewiseEmulatorCli } from '../simulators/sitewise/index';
import { startLocalBroker } from '../simulators/broker/index';
import { untilStopSignal } from '../edge-components/shared/lifecycle';
import { loadIngestConfig } from '../edge-components/ingest/config';
import { serveIngest } from '../edge-components/ingest/main';
import { runPublisher } from '../edge-components/publisher/main';
import { createLogger } from '../platform/logger';
import { DEFAULT_DEMO, demoScenario, formatDemoSummary, posteriorRow, runDemo } from './demo';
import { registerParamsCommands } from './params';
import { runLiveDemoCommand } from './live-demo/command';
import { DEFAULT_LIVE, MAX_LIVE_DAYS } from './live-demo/live-demo';
import { registerBatchCommands } from './batch';
import { registerDashboardCommand } from './report/dashboard-command';
import { registerGrafanaCommand } from './grafana';
import { progressBar } from './progress';
import { readVariableMap } from '../platform/fmi';
import { parseFmuOption, type FmuChoice } from '../platform/fmi/fmu-option';
import { FmuSteadyStatePool } from '../platform/fmi/steady-state-pool';
import { checkFmuModelFitsLine } from '../cloud/calibration-job/fmu-ukf-reference';
import { registerReplayCommand } from './replay';
import { registerFmuCommands } from './fmu';
import { readCalibrationCsv, readColumnMap } from '../cloud/calibration-job/csv-input';
import {
  calibrateWindow,
  type CalibrateWindowOptions,
  type CalibrationOutput,
} from '../cloud/calibration-job/calibrate-window';
import type { BackendRequest } from '../cloud/calibration-job/kernels/select';
import { exitWhenWebGpuIdle } from '../cloud/calibration-job/kernels/gpu-backends';
import { watchLauncher } from './launcher-watch';
import { logLevelOption, withAwsOptions, type AwsCliOptions, type CliLogLevel } from './aws-options';

/** The repository root (the bundles and the job's working directory). */
const REPO = resolve(__dirname, '..');

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Show a progress bar on stderr: only where stderr is a terminal (never into a redirected log). */
  progress: boolean;
}

const processIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  progress: process.stderr.isTTY === true,
};

function numberIn(min: number, max: number, integer = false) {
  return (raw: string): number => {
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError(`'${raw}' is not a number.`);
    if (integer && !Number.isInteger(v)) throw new InvalidArgumentError(`'${raw}' is not an integer.`);
    if (v < min || v > max) throw new InvalidArgumentError(`${raw} is outside [${min}, ${max}].`);
    return v;
  };
}

function requireIdler(topology: LineTopology, roller: string): void {
  const idx = topology.elementIndex.get(roller);
  if (idx === undefined || topology.elements[idx]?.type !== 'idler') {
    const idlers = topology.idlers.map((i) => topology.elements[i]?.name).join(', ');
    throw new SelfcalError(
      'CLI_ARGUMENT_INVALID',
      `--roller '${roller}' is not an idler of line ${topology.line.id} (idlers: ${idlers})`,
    );
  }
}

/** SMC members of the demo's recalibration (the job's default is 4096; 1024 keeps the demo quick). */
const DEMO_PARTICLES = 1024;

function particlesOption(defaultValue: number): Option {
  return new Option('--particles <n>', 'SMC members')
    .argParser(numberIn(64, 1_000_000, true))
    .default(defaultValue);
}

function backendOption(): Option {
  return new Option(
    '--backend <name>',
    'member evaluation: gpu, webasm, cpu (gpu.js kernels) or reference (plain TS)',
  )
    .choices(['auto', 'gpu', 'webasm', 'cpu', 'reference'])
    .default('auto');
}

function threadsOption(): Option {
  return new Option(
    '--threads <n>',
    'threads for the member evaluations: the TypeScript reference on every thread (reference; auto without a GPU from 3 threads, below that auto takes the CPU kernel); default: every core',
  ).argParser(numberIn(1, 1024, true));
}

/**
 * calibrateWindow with a progress bar on stderr. The SMC tempers from the prior to the posterior: the
 * data's weight β goes from 0 to 1 in adaptive stages (each as large as the members' diversity allows), so
 * the bar shows β, the stage and the effective sample size, and the time spent, not an ETA (the steps are
 * not even). A horizon the fit check rejects starts again at β 0 on a shorter one.
 */
async function calibrateWithProgress(
  io: CliIo,
  label: string,
  topology: LineTopology,
  readings: readonly Reading[],
  options: Omit<CalibrateWindowOptions, 'onProgress'>,
): Promise<CalibrationOutput> {
  const bar = progressBar(
    io,
    `${label} [{bar}] data weight β {beta} of 1 | stage {stage} | ESS {ess} | {duration_formatted}`,
  );
  try {
    return await calibrateWindow(topology, readings, {
      ...options,
      onProgress: (p) =>
        bar.update(Math.round(p.temperature * 1000), 1000, {
          beta: p.temperature.toFixed(3),
          stage: p.stage,
          ess: Math.round(p.ess),
        }),
    });
  } finally {
    bar.stop();
  }
}

const samplesFormat = (label: string) =>
  `${label} [{bar}] {percentage}% | {value}/{total} samples | ETA {eta_formatted}`;

const portOption = (defaultPort: number) =>
  new Option('--port <n>', 'TCP port to listen on (0 = any free port)')
    .argParser(numberIn(0, 65535, true))
    .default(defaultPort);

function buildProgram(io: CliIo): Command {
  const program = new Command('selfcal')
    .description(
      'Self-calibrating digital twins of industrial lines (edge + cloud), runnable against simulators.',
    )
    .version(packageJson.version, '-V, --version', 'print the version of selfcal')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)');

  const shared = sharedOptions();
  registerDemoCommand(program, io, shared);
  registerSimulateCommand(program, io, shared);
  registerServiceCommands(program, io);
  // The live dashboard of a line's SiteWise history: cli/report/dashboard.ts.
  registerDashboardCommand(program, io, portOption);
  registerValidateLineCommand(program, io);
  registerCalibrateCommand(program, io, shared);
  // Applied parameter sets (show, history, rollback) and manifest signing (keygen, sign): cli/params.ts.
  registerParamsCommands(program, io);
  registerBatchCommands(program, io);
  registerGrafanaCommand(program, io);
  registerReplayCommand(program, io);
  // FMI 2.0 FMUs (check): cli/fmu.ts, the runtime in platform/fmi.
  registerFmuCommands(program, io);
  return program;
}

/** The options that demo, simulate and calibrate share (the same Option objects on each command). */
interface SharedOptions {
  days: Option;
  seed: Option;
  period: Option;
  line: Option;
}

function sharedOptions(): SharedOptions {
  return {
    days: new Option('--days <n>', 'simulated days')
      .argParser(numberIn(0.01, 3650))
      .default(DEFAULT_DEMO.days),
    seed: new Option('--seed <n>', 'random seed (integer)')
      .argParser(numberIn(0, 2 ** 31 - 1, true))
      .default(DEFAULT_DEMO.seed),
    period: new Option('--sample-period <s>', 'seconds between samples')
      .argParser(numberIn(1, 86400))
      .default(DEFAULT_DEMO.samplePeriodS),
    line: new Option('--line <id|path>', 'shipped line id or path to a line description JSON').default(
      'reference-web-line',
    ),
  };
}

interface DemoCliOptions extends PlantCliOptions {
  days?: number;
  roller: string;
  seed: number;
  samplePeriod: number;
  line: string;
  recalibrate: boolean;
  particles: number;
  backend: BackendRequest;
  threads?: number;
  json?: boolean;
  inProcess?: boolean;
  speed?: number;
  scheduleHours: number;
  windowHours: number;
  alarmRecalibration: boolean;
  out: string;
  replay?: string;
  columns?: string;
}

function registerDemoCommand(program: Command, io: CliIo, shared: SharedOptions): void {
  const demo = program
    .command('demo')
    .description(
      'run the closed loop on the embedded stack: the plant over MQTT, the edge components as processes, ' +
        'SiteWise, Batch and the device shadow emulated; recalibrations on a schedule and on drift alarms ' +
        '(--in-process: the plant, the edge UKF and one recalibration in this process)',
    )
    .addOption(
      new Option(
        '--days <n>',
        `simulated days (default ${DEFAULT_LIVE.days}, at most ${MAX_LIVE_DAYS}: SiteWise keeps 7 days; --in-process: ${DEFAULT_DEMO.days}, up to 3650; not with --replay)`,
      ).argParser(numberIn(0.01, 3650)),
    )
    .addOption(new Option('--roller <name>', 'idler whose bearing degrades').default(DEFAULT_DEMO.roller))
    .addOption(shared.seed)
    .addOption(shared.period)
    .addOption(shared.line)
    .option('--no-recalibrate', '--in-process: skip the cloud recalibration of the run')
    .addOption(particlesOption(DEMO_PARTICLES))
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--json', 'print the result as JSON')
    .option('--in-process', 'simulate, filter and recalibrate inside this process (the previous demo)')
    .addOption(
      new Option(
        '--speed <n>',
        'simulated seconds per wall second (default: as fast as the stack takes it)',
      ).argParser(numberIn(1, 1e9)),
    )
    .addOption(
      new Option('--schedule-hours <h>', 'simulated hours between scheduled recalibrations (0: none)')
        .argParser(numberIn(0, 24 * 7))
        .default(DEFAULT_LIVE.scheduleHours),
    )
    .addOption(
      new Option('--window-hours <h>', 'simulated hours of history each recalibration reads')
        .argParser(numberIn(1, 24 * 7))
        .default(DEFAULT_LIVE.windowHours),
    )
    .option('--no-alarm-recalibration', 'do not recalibrate when the edge raises a drift alarm')
    .option(
      '--replay <file.csv>',
      "publish this historian export (with --columns) instead of the plant simulator's readings; the run spans the export's time, rebased to end now; no truth",
    )
    .option('--columns <map.json>', '--replay: JSON map from CSV columns to signal names');
  addPlantOptions(demo)
    .option('--out <dir>', 'output folder of the live demo', 'demo-output')
    .action((o: DemoCliOptions, command: Command) => runDemoCommand(io, o, command));
}

/**
 * `--replay` needs `--columns` and the other way round; the plant's own options do not apply to a replay
 * (its duration is the export's span): each is refused by name, exit 2.
 */
function checkReplayOptions(o: DemoCliOptions, command: Command): void {
  const invalid = (message: string) => new SelfcalError('CLI_ARGUMENT_INVALID', message);
  if (o.replay === undefined) {
    if (o.columns !== undefined) throw invalid('--columns applies only with --replay FILE');
    return;
  }
  if (o.columns === undefined)
    throw invalid(
      '--replay needs --columns MAP.json: which CSV column feeds which signal, and the time column (docs/calibrate-csv.md)',
    );
  const plantOnly: [string, string][] = [
    ['days', "--days: a replay runs over the export's own time span (cut the CSV to replay less)"],
    ['roller', '--roller: a replay has no simulated degradation'],
    ['samplePeriod', "--sample-period: a replay keeps the export's own spacing"],
    ['inProcess', '--in-process: the in-process demo simulates the plant; --replay runs the live loop'],
    ['recalibrate', '--no-recalibrate applies only to --in-process'],
  ];
  const given = plantOnly.filter(([key]) => command.getOptionValueSource(key) === 'cli');
  if (given.length > 0) throw invalid(`not with --replay: ${given.map(([, why]) => why).join('; ')}`);
}

/** The live demo's plant: an FMU only for the live loop's own plant (not a replay, not --in-process). */
function demoPlantChoice(o: DemoCliOptions): PlantChoice {
  const choice = parsePlantChoice(o);
  if (choice.kind === 'builtin') return choice;
  const refused = o.replay !== undefined ? '--replay' : o.inProcess ? '--in-process' : undefined;
  if (refused !== undefined)
    throw new SelfcalError(
      'CLI_ARGUMENT_INVALID',
      `--plant fmu: not with ${refused} (the FMU plant feeds the live loop; --in-process runs the built-in plant only)`,
    );
  return choice;
}

async function runDemoCommand(io: CliIo, o: DemoCliOptions, command: Command): Promise<void> {
  checkReplayOptions(o, command);
  const plant = demoPlantChoice(o);
  const topology = loadLineFrom(o.line);
  requireIdler(topology, o.roller);
  if (o.inProcess) return runInProcessDemo(io, { ...o, days: o.days ?? DEFAULT_DEMO.days }, topology);
  const particlesGiven = command.getOptionValueSource('particles') === 'cli';
  const result = await runLiveDemoCommand(io, {
    ...DEFAULT_DEMO,
    topology,
    line: o.line,
    days: o.days ?? DEFAULT_LIVE.days,
    roller: o.roller,
    seed: o.seed,
    samplePeriodS: o.samplePeriod,
    particles: particlesGiven ? o.particles : DEFAULT_LIVE.particles,
    backend: o.backend,
    ...(o.threads !== undefined ? { threads: o.threads } : {}),
    ...(o.speed !== undefined ? { speed: o.speed } : {}),
    scheduleHours: o.scheduleHours,
    windowHours: o.windowHours,
    onAlarm: o.alarmRecalibration,
    ...(o.replay !== undefined && o.columns !== undefined
      ? { replay: { csv: o.replay, columns: o.columns } }
      : {}),
    plant,
    outDir: o.out,
    json: o.json === true,
    repo: REPO,
  });
  if (result.interrupted) throw new CliExit(130, 'demo interrupted');
  if (result.summary && !result.summary.ok)
    throw new CliExit(1, `demo: ${result.summary.problems.join('; ')}`);
}

async function runInProcessDemo(
  io: CliIo,
  o: DemoCliOptions & { days: number },
  topology: LineTopology,
): Promise<void> {
  const bar = progressBar(io, samplesFormat('simulating the plant + the edge estimator'));
  const readings: Reading[] = [];
  const result = runDemo(
    topology,
    { ...DEFAULT_DEMO, days: o.days, roller: o.roller, seed: o.seed, samplePeriodS: o.samplePeriod },
    bar.update,
    o.recalibrate ? readings : undefined,
  );
  bar.stop();
  if (o.recalibrate) {
    result.recalibration = await calibrateWithProgress(io, 'cloud recalibration', topology, readings, {
      particles: o.particles,
      seed: o.seed,
      backend: o.backend,
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
    });
  }
  io.stdout(o.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatDemoSummary(result)}\n`);
}

interface SimulateCliOptions extends PlantCliOptions {
  days: number;
  roller?: string;
  finalB: number;
  seed: number;
  samplePeriod: number;
  line: string;
  out?: string;
}

/** The options that choose the plant (simulate, demo): the built-in plant simulator or an FMU. */
function addPlantOptions(command: Command): Command {
  return command
    .option(
      '--plant <builtin|fmu:FILE.fmu>',
      'the plant: the built-in plant simulator, or an FMI 2.0 co-simulation FMU (with --map; docs/fmi.md)',
    )
    .option(
      '--map <map.json>',
      '--plant fmu: variable map (FMU outputs → signals, parameters → frictions, settle rule)',
    )
    .option(
      '--trust-fmu',
      '--plant fmu: load the FMU even where other users could have written it (its native code runs with your rights)',
    );
}

function registerSimulateCommand(program: Command, io: CliIo, shared: SharedOptions): void {
  const command = program
    .command('simulate')
    .description(
      'run the plant (the built-in simulator or an FMU) and write its readings as CSV (ts + one column per signal)',
    )
    .addOption(shared.days)
    .addOption(new Option('--roller <name>', 'idler whose bearing degrades (default: none, a healthy line)'))
    .addOption(
      new Option('--final-b <Nms>', 'friction the degrading bearing reaches [N·m·s/rad] (with --roller)')
        .argParser(numberIn(1e-6, 10))
        .default(DEFAULT_DEMO.finalNms),
    )
    .addOption(shared.seed)
    .addOption(shared.period)
    .addOption(shared.line);
  addPlantOptions(command)
    .option('--out <file>', 'CSV file to write (default: stdout)')
    .action((o: SimulateCliOptions) => runSimulateCommand(io, o));
}

async function runSimulateCommand(io: CliIo, o: SimulateCliOptions): Promise<void> {
  const choice = parsePlantChoice(o);
  const topology = loadLineFrom(o.line);
  if (o.roller !== undefined) requireIdler(topology, o.roller);
  const scenario = demoScenario(topology, {
    ...DEFAULT_DEMO,
    days: o.days,
    roller: o.roller ?? '',
    finalNms: o.finalB,
    seed: o.seed,
    samplePeriodS: o.samplePeriod,
  });
  if (o.roller === undefined) scenario.degradations = [];
  const plant = await openPlant(topology, scenario, choice);
  try {
    await writeReadings(io, o.out, topology, plant);
  } finally {
    plant.dispose();
  }
}

async function writeReadings(io: CliIo, out: string | undefined, topology: LineTopology, plant: Plant) {
  const signals = topology.line.sensors.map((s) => s.signal);
  const bar = progressBar(io, samplesFormat('simulating the plant'));
  const total = plant.sampleCount;
  let done = 0;
  const readings = (function* () {
    for (const s of plant.samples()) {
      done += 1;
      if (done % 50 === 0 || done === total) bar.update(done, total);
      yield s.reading;
    }
  })();
  try {
    if (out === undefined) {
      for (const row of readingsToCsv(signals, readings)) io.stdout(row);
    } else {
      await writeCsvFile(out, readingsToCsv(signals, readings));
    }
  } finally {
    bar.stop();
  }
}

/** Writes the rows to `path`, waiting for drain, and resolves once the file is closed. */
async function writeCsvFile(path: string, rows: Iterable<string>): Promise<void> {
  const file = createWriteStream(path);
  try {
    for (const row of rows)
      if (!file.write(row)) await new Promise<void>((r) => file.once('drain', () => r()));
  } catch (err) {
    // The rows failed (an FMU's error): close the file as far as it got, then report the error.
    await new Promise<void>((r) => file.end(() => r()));
    throw err;
  }
  await new Promise<void>((resolve, reject) =>
    file.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
}

/** The long-running services: sitewise-emulator, broker, ingest, publisher (each until SIGTERM/SIGINT). */
function registerServiceCommands(program: Command, io: CliIo): void {
  program
    .command('sitewise-emulator')
    .description('run the SiteWise emulator (HTTP + SQLite) until SIGTERM/SIGINT; logs JSON lines')
    .addOption(portOption(9443))
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--db <file>', "SQLite file of the emulator's data (':memory:' for none)", 'sitewise-emulator.db')
    .option('--faults <file>', 'JSON fault schedule (see README)')
    .action(async (o: { port: number; host: string; db: string; faults?: string }) => {
      const { stopped } = await runSitewiseEmulatorCli({
        port: o.port,
        host: o.host,
        db: o.db,
        faultsFile: o.faults,
        log: (line: string) => io.stdout(`${line}\n`),
      });
      await stopped;
    });

  program
    .command('broker')
    .description('run the local MQTT broker (aedes) until SIGTERM/SIGINT; logs JSON lines')
    .addOption(portOption(1883))
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .action(async (o: { port: number; host: string }) => {
      const broker = await startLocalBroker({ port: o.port, host: o.host });
      io.stdout(`${JSON.stringify({ msg: 'listening', url: broker.url, port: broker.port })}\n`);
      const signal = await untilStopSignal();
      await broker.close();
      io.stdout(`${JSON.stringify({ msg: 'stopped', signal })}\n`);
    });

  program
    .command('ingest')
    .description(
      `run the MQTT ingest component until SIGTERM/SIGINT (config: --config FILE and/or SELFCAL_INGEST_CONFIG)`,
    )
    .option('--config <file>', 'JSON configuration file')
    .addOption(logLevelOption())
    .action(async (o: { config?: string; logLevel?: CliLogLevel }) => {
      const config = loadIngestConfig({
        filePath: o.config,
        env: process.env,
        ...(o.logLevel ? { overrides: { logLevel: o.logLevel } } : {}),
      });
      await serveIngest(config, createLogger({ component: 'ingest', level: config.logLevel }));
    });

  const publisher = program
    .command('publisher')
    .description(
      `run the SiteWise publisher component until SIGTERM/SIGINT (config: --config FILE and/or SELFCAL_PUBLISHER_CONFIG; the flags override their keys)`,
    )
    .option('--config <file>', 'JSON configuration file');
  withAwsOptions(publisher, 'SiteWise').action(async (o: { config?: string } & AwsCliOptions) => {
    const overrides = Object.fromEntries(
      (['region', 'profile', 'endpoint', 'logLevel'] as const).flatMap((k) =>
        o[k] === undefined ? [] : [[k, o[k]]],
      ),
    );
    await runPublisher({ configFile: o.config, overrides });
  });
}

function registerValidateLineCommand(program: Command, io: CliIo): void {
  program
    .command('validate-line <file>')
    .description('check a line description against the schema and the topology rules')
    .action((file: string) => {
      const t = loadLineFrom(isLineFilePath(file) ? file : `./${file}`);
      io.stdout(
        `ok: line ${t.line.id}: ${t.elements.length} elements, ${t.spanNames.length} spans, ${t.line.sensors.length} sensors\n`,
      );
    });
}

interface CalibrateCliOptions {
  csv: string;
  columns?: string;
  line: string;
  particles: number;
  seed: number;
  backend: BackendRequest;
  threads?: number;
  horizonHours: number;
  json?: boolean;
  acceptMisfit?: boolean;
  ukfModel?: string;
  map?: string;
  trustFmu?: boolean;
  ukfBatchMinutes?: number;
}

function registerCalibrateCommand(program: Command, io: CliIo, shared: SharedOptions): void {
  program
    .command('calibrate')
    .description(
      'recalibrate the bearing frictions of a line from a CSV window (SMC posterior: parameters, health, virtual sensors)',
    )
    .requiredOption('--csv <file>', 'CSV with a header row, a time column and numeric columns (see README)')
    .option(
      '--columns <map.json>',
      'JSON map from CSV columns to signal names (default: columns named as signals)',
    )
    .addOption(shared.line)
    .addOption(particlesOption(4096))
    .addOption(shared.seed)
    .addOption(backendOption())
    .addOption(threadsOption())
    .addOption(
      new Option('--horizon-hours <h>', 'trailing part of the window the frictions are fitted to')
        .argParser(numberIn(0.01, 24 * 366, false))
        .default(48),
    )
    .option('--json', 'print the result as JSON')
    .option(
      '--accept-misfit',
      `give health verdicts even where the model does not explain the window (exit 0 instead of ${EXIT_MISFIT})`,
    )
    .option(
      '--ukf-model <model>',
      'also run the UKF reference on fmu:FILE.fmu as its model (the seed’s method on your FMU; needs --map; docs/fmi.md)',
    )
    .option(
      '--map <map.json>',
      'with --ukf-model fmu:…: the FMU’s variable map (outputs, parameters, settle rule)',
    )
    .option(
      '--trust-fmu',
      'with --ukf-model fmu:…: load the FMU even from a path others may write (runs its native code)',
    )
    .addOption(
      new Option(
        '--ukf-batch-minutes <m>',
        'with --ukf-model fmu:…: one FMU-UKF update per this many minutes of readings',
      )
        .argParser(numberIn(0.01, 24 * 60, false))
        .default(10),
    )
    .action((o: CalibrateCliOptions) => runCalibrateCommand(io, o));
}

async function runCalibrateCommand(io: CliIo, o: CalibrateCliOptions): Promise<void> {
  const topology = loadLineFrom(o.line);
  const fmuChoice = parseFmuOption('--ukf-model', 'reduced', {
    value: o.ukfModel,
    map: o.map,
    trustFmu: o.trustFmu,
  });
  const columnMap = o.columns === undefined ? undefined : await readColumnMap(o.columns, topology);
  const csv = await readCalibrationCsv(o.csv, { topology, columnMap });
  // The FMU is opened and checked against the line before the recalibration starts (typed errors, exit 2).
  const pool = fmuChoice ? await openUkfModelPool(topology, fmuChoice, o.threads) : undefined;
  const fmuBar = progressBar(io, 'UKF on the FMU [{bar}] {value}/{total} batches | ETA {eta_formatted}');
  let result: CalibrationOutput;
  try {
    result = await calibrateWithProgress(io, 'recalibrating', topology, csv.readings, {
      particles: o.particles,
      seed: o.seed,
      backend: o.backend,
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
      horizonS: o.horizonHours * 3600,
      acceptMisfit: o.acceptMisfit === true,
      ...(pool
        ? {
            fmuModel: {
              pool,
              batchS: (o.ukfBatchMinutes ?? 10) * 60,
              onProgress: (p: { batch: number; batches: number }) => fmuBar.update(p.batch, p.batches),
            },
          }
        : {}),
    });
  } finally {
    fmuBar.stop();
    await pool?.dispose();
  }
  io.stdout(o.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatCalibration(topology, result)}\n`);
  for (const w of result.warnings) io.stderr(`warning: ${w}\n`);
  if (result.fit.status !== 'ok' && !result.fit.accepted) {
    const what =
      result.fit.status === 'misfit'
        ? 'no health verdict'
        : 'no health verdict for the rollers marked unknown';
    throw new CliExit(
      EXIT_MISFIT,
      `error code: MODEL_MISFIT (exit ${EXIT_MISFIT}): ${what}; --accept-misfit gives them anyway`,
    );
  }
}

function fitText(fit: CalibrationOutput['fit']): string {
  const accepted = fit.accepted ? ', accepted' : '';
  if (fit.status === 'ok') return 'the model explains the window';
  if (fit.status === 'misfit') return `MISFIT${accepted || ': no verdict'}`;
  return `PARTIAL: see the warnings${accepted}`;
}

function formatCalibration(topology: LineTopology, r: CalibrationOutput): string {
  const d = r.diagnostics;
  const rows = topology.idlers.map((e, k) => {
    const name = topology.elements[e]?.name ?? '?';
    return posteriorRow(
      name,
      r.health[name] ?? '-',
      r.parameters[topology.frictionParameterNames[k] as string],
    );
  });
  return [
    `selfcal calibrate — line ${topology.line.id}, ${d.readings} readings (${d.window.fromS} … ${d.window.toS} s)`,
    '',
    'roller  health      b mean     b std       p05       p95',
    ...rows,
    '',
    `b at the window end, fitted to the last ${((d.window.toS - d.horizon.fromS) / 3600).toFixed(1)} h (${d.horizon.readings} readings, ${d.horizon.bins} bins)`,
    `fit: q_min ${r.fit.qMin.toFixed(1)} ${r.fit.ok ? '≤' : '>'} dof ${r.fit.dof} (${fitText(r.fit)})`,
    `SMC: ${d.particles} members (${d.backend}), ${d.stages} stages, ${d.resamples} resamples, final ESS ${d.finalEss.toFixed(0)}, log-evidence ${d.logEvidence.toFixed(1)}, ${(d.wallMs / 1000).toFixed(1)} s`,
    ...(d.ukf
      ? [
          `UKF reference: ${d.ukf.updates} updates, ${(d.ukf.wallMs / 1000).toFixed(1)} s, ${d.ukf.disagreements.length === 0 ? 'agrees with the SMC' : `disagrees on ${d.ukf.disagreements.join(', ')}`}`,
        ]
      : []),
    ...(d.ukfFailure ? [`UKF reference failed (${d.ukfFailure.code}): ${d.ukfFailure.message}`] : []),
    ...(d.fmuUkf ? fmuUkfLines(topology, d.fmuUkf) : []),
    ...(d.fmuUkfFailure
      ? [`UKF reference on the FMU failed (${d.fmuUkfFailure.code}): ${d.fmuUkfFailure.message}`]
      : []),
  ].join('\n');
}

function fmuUkfLines(
  topology: LineTopology,
  f: NonNullable<CalibrationOutput['diagnostics']['fmuUkf']>,
): string[] {
  const agree = (names: string[], what: string) =>
    names.length === 0 ? `agrees with ${what}` : `disagrees with ${what} on ${names.join(', ')}`;
  const m = f.model;
  return [
    '',
    `UKF reference on the FMU ${m.modelName}: ${f.updates} updates of ${m.batches} batches (${m.batchS / 60} min; ${m.skippedUpdates} skipped, ${m.gatedUpdates} gated, ${m.forced} taken past the gate, ${m.restarts} restarts), ${m.evaluations} steady states on ${m.threads} threads, ${(f.wallMs / 1000).toFixed(1)} s`,
    'roller  health      b mean     b std       p05       p95',
    ...topology.idlers.map((e, k) => {
      const name = topology.elements[e]?.name ?? '?';
      return posteriorRow(
        name,
        f.health[name] ?? '-',
        f.parameters[topology.frictionParameterNames[k] as string],
      );
    }),
    `${agree(f.disagreements, 'the SMC')}; ${f.reduced ? agree(f.reduced.disagreements, 'the reduced-model UKF') : 'no reduced-model UKF to compare'}`,
    ...(m.explainsEnd
      ? []
      : [
          'warning: the FMU does not explain the end of the window (its last batch was gated, cut or skipped): no verdict, every roller unknown',
        ]),
    ...(m.firstFailure
      ? [`first failed steady state: ${m.firstFailure.code}: ${m.firstFailure.message}`]
      : []),
  ];
}

async function openUkfModelPool(
  topology: LineTopology,
  choice: FmuChoice,
  threads: number | undefined,
): Promise<FmuSteadyStatePool> {
  const map = readVariableMap(choice.mapPath);
  checkFmuModelFitsLine(topology, map);
  return FmuSteadyStatePool.open({
    fmuPath: choice.fmuPath,
    map,
    trust: choice.trust,
    ...(threads !== undefined ? { threads } : {}),
  });
}

/** `selfcal calibrate`'s exit code when the model does not explain the window (no health verdict). */
export const EXIT_MISFIT = 3;

/** An outcome an action has reported already, that is not success: runCli prints `message`, returns `exitCode`. */
class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'CliExit';
  }
}

/**
 * A command with subcommands given none (`selfcal`, `selfcal batch`) prints its help on stdout and exits 0,
 * as `--help` does; an unknown subcommand is an error (exit 2).
 */
function helpWhenBare(command: Command): void {
  if (command.commands.length === 0) return;
  command.commands.forEach(helpWhenBare);
  command.allowExcessArguments(true).action(() => {
    const [first] = command.args;
    if (first !== undefined) {
      command.error(`error: unknown command '${first}'`, { code: 'commander.unknownCommand', exitCode: 2 });
    }
    command.help();
  });
}

/**
 * Run the CLI; returns the exit code (0 ok, 1 runtime failure, 2 bad arguments or input, 3 `calibrate`:
 * the model does not explain the window).
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const program = buildProgram(io);
  helpWhenBare(program);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CliExit) {
      io.stderr(`${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0)
        return 0;
      // Commander already printed its message; add our stable code for scripts.
      io.stderr(`error code: CLI_ARGUMENT_INVALID (${err.code})\n`);
      return 2;
    }
    if (err instanceof SelfcalError) {
      io.stderr(`error [${err.code}]: ${err.message}\n`);
      return 2;
    }
    io.stderr(`error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

/**
 * Entry point for `node cli/bin.js` and `tsx cli/main.ts`: stops when the npm process that launched it is
 * gone (launcher-watch.ts), sets the process exit code, and exits explicitly once a WebGPU device it used is
 * destroyed (Dawn can keep Node alive after that).
 */
export function main(argv: readonly string[] = process.argv.slice(2)): void {
  watchLauncher();
  void runCli(argv).then((code) => exitWhenWebGpuIdle(code));
}

if (require.main === module) main();
