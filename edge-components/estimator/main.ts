/**
 * Standalone entry point of the estimator component:
 *   node main.js [config.json]       (or SELFCAL_ESTIMATOR_CONFIG=<json or path>)
 * Exit codes: 0 after SIGTERM/SIGINT or the end of the parent that started it with an IPC channel
 * (shared/lifecycle.ts: stopWithParentProcess) (the batch in hand estimated and stored, store closed), 2 for a bad
 * configuration or line description, 1 for anything else at start-up.
 */
import type { LineTopology } from '../../twin/lines/topology';
import type { PubSub } from '../runtime/contract';
import { loadConfiguredLines } from '../shared/lines';
import { reportFailure, stopWithParentProcess, untilStopSignal } from '../shared/lifecycle';
import { createLogger, type Logger } from '../../platform/logger';
import { SqliteParameterStore } from '../store/parameter-store';
import { openStoreDatabase, SqliteOutboxStore } from '../store/sqlite-outbox-store';
import { loadEstimatorConfig, type EstimatorConfig } from './config';
import { EstimatorComponent, type ParameterSource } from './estimator-component';
import { createCalibrationReceiver, startRuntime } from './wiring';
import type { CalibrationReceiver } from '../calibration/calibration-receiver';

export interface EstimatorWiring {
  /** Active calibrated parameters; default: the calibration receiver's ParameterStore in the same file. */
  parameters?: ParameterSource;
  /** The runtime's buses for drift alarms (EdgeRuntime.local / .cloud); none: alarms are logged only. */
  pubsub?: { thingName?: string; local?: PubSub; cloud?: PubSub };
  clock?: () => number;
}

export interface RunningEstimator {
  estimator: EstimatorComponent;
  lines: readonly LineTopology[];
  /** The parameter sets in the outbox file, on the estimator's own connection (for the receiver). */
  parameters: SqliteParameterStore;
  /** Resolves when the loop has stopped and the store is closed. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** Open the outbox (one connection for readings and parameter sets) and start the estimation loop. */
export function runEstimator(
  config: Readonly<EstimatorConfig>,
  logger: Logger,
  wiring: EstimatorWiring = {},
): RunningEstimator {
  const lines = loadConfiguredLines(config.lines);
  const storeOptions = { path: config.dbPath, synchronous: config.synchronous };
  const db = openStoreDatabase(storeOptions);
  const store = SqliteOutboxStore.open(storeOptions, db);
  const parameters = new SqliteParameterStore(db);
  let estimator: EstimatorComponent;
  try {
    estimator = new EstimatorComponent({
      store,
      lines,
      settings: config,
      logger,
      parameters: wiring.parameters ?? parameters,
      pubsub: wiring.pubsub
        ? { ...wiring.pubsub, thingName: wiring.pubsub.thingName ?? config.thingName }
        : undefined,
      clock: wiring.clock,
    });
  } catch (error) {
    store.close();
    throw error;
  }
  const metrics = setInterval(() => logger.info('metrics', { ...estimator.metrics() }), 60_000);
  metrics.unref();
  logger.info('estimator started', { dbPath: config.dbPath, lines: lines.map((l) => l.line.id) });
  const done = estimator.run().finally(() => {
    clearInterval(metrics);
    store.close();
    logger.info('estimator stopped', { ...estimator.metrics() });
  });
  return {
    estimator,
    lines,
    parameters,
    done,
    shutdown: async () => {
      estimator.stop();
      await done;
    },
  };
}

/**
 * Run until SIGTERM/SIGINT: the runtime (if configured), the estimator, and the calibration receiver on
 * the runtime's shadow; reports RUNNING to the nucleus once all are up.
 */
export async function serveEstimator(
  config: Readonly<EstimatorConfig>,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  // Listen first: a signal during start-up still ends in a clean stop.
  const stopSignal = untilStopSignal();
  const runtime = await startRuntime(config, env, logger);
  let running: RunningEstimator | undefined;
  let receiver: CalibrationReceiver | undefined;
  try {
    running = runEstimator(config, logger, {
      pubsub: runtime
        ? { thingName: runtime.thingName, local: runtime.local, cloud: runtime.cloud }
        : undefined,
    });
    const estimator = running.estimator;
    if (runtime) {
      receiver = createCalibrationReceiver({
        config,
        lines: running.lines,
        runtime,
        parameters: running.parameters,
        logger,
        onApplied: (applied) => estimator.onParametersApplied(applied),
      });
      await receiver.start();
      await runtime.reportState('RUNNING');
    }
    const signal = await Promise.race([stopSignal, running.done.then(() => undefined)]);
    logger.info('stopping', { signal: signal ?? null });
  } finally {
    await receiver?.stop();
    await running?.shutdown();
    await runtime?.close();
  }
}

export function main(argv: readonly string[], env: NodeJS.ProcessEnv): void {
  const bootLogger = createLogger({ component: 'estimator' });
  stopWithParentProcess(bootLogger);
  const fail = (error: unknown) => reportFailure(bootLogger, error);
  let config: Readonly<EstimatorConfig>;
  try {
    config = loadEstimatorConfig({ file: argv[0], env });
  } catch (error) {
    process.exitCode = fail(error);
    return;
  }
  serveEstimator(config, createLogger({ component: 'estimator', level: config.logLevel }), env).then(
    () => process.exit(0),
    (error: unknown) => process.exit(fail(error)),
  );
}

if (require.main === module) main(process.argv.slice(2), process.env);
