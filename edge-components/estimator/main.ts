/**
 * Standalone entry point of the estimator component:
 *   node main.js [config.json]       (or SELFCAL_ESTIMATOR_CONFIG=<json or path>)
 * Exit codes: 0 after SIGTERM/SIGINT (the batch in hand estimated and stored, store closed), 2 for a bad
 * configuration or line description, 1 for anything else at start-up.
 */
import { LineDescriptionError } from '../../twin/errors';
import { loadLine, type LineTopology } from '../../twin/lines/topology';
import type { PubSub } from '../runtime/contract';
import { ConfigError } from '../shared/config';
import { untilStopSignal } from '../shared/lifecycle';
import { createLogger, type Logger } from '../shared/logger';
import { openParameterStore } from '../store/parameter-store';
import { openOutboxStore } from '../store/sqlite-outbox-store';
import { loadEstimatorConfig, type EstimatorConfig } from './config';
import { EstimatorComponent, type ParameterSource } from './estimator-component';

function loadLines(config: EstimatorConfig): LineTopology[] {
  return config.lines.map((idOrPath, i) => {
    try {
      return loadLine(idOrPath);
    } catch (cause) {
      if (!(cause instanceof LineDescriptionError)) throw cause;
      throw new ConfigError(`lines/${i}`, cause.message, { cause });
    }
  });
}

export interface EstimatorWiring {
  /** Active calibrated parameters; default: the calibration receiver's ParameterStore in the same file. */
  parameters?: ParameterSource;
  /** The runtime's buses for drift alarms (EdgeRuntime.local / .cloud); none: alarms are logged only. */
  pubsub?: { thingName?: string; local?: PubSub; cloud?: PubSub };
  clock?: () => number;
}

export interface RunningEstimator {
  estimator: EstimatorComponent;
  /** Resolves when the loop has stopped and the store is closed. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** Open the outbox and start the estimation loop. */
export function runEstimator(
  config: Readonly<EstimatorConfig>,
  logger: Logger,
  wiring: EstimatorWiring = {},
): RunningEstimator {
  const lines = loadLines(config);
  const store = openOutboxStore({ path: config.dbPath, synchronous: config.synchronous });
  let ownParameters: ReturnType<typeof openParameterStore> | undefined;
  let estimator: EstimatorComponent;
  try {
    if (!wiring.parameters)
      ownParameters = openParameterStore({ path: config.dbPath, synchronous: config.synchronous });
    estimator = new EstimatorComponent({
      store,
      lines,
      settings: config,
      logger,
      parameters: wiring.parameters ?? ownParameters,
      pubsub: wiring.pubsub
        ? { ...wiring.pubsub, thingName: wiring.pubsub.thingName ?? config.thingName }
        : undefined,
      clock: wiring.clock,
    });
  } catch (error) {
    ownParameters?.close();
    store.close();
    throw error;
  }
  const metrics = setInterval(() => logger.info('metrics', { ...estimator.metrics() }), 60_000);
  metrics.unref();
  logger.info('estimator started', { dbPath: config.dbPath, lines: lines.map((l) => l.line.id) });
  const done = estimator.run().finally(() => {
    clearInterval(metrics);
    ownParameters?.close();
    store.close();
    logger.info('estimator stopped', { ...estimator.metrics() });
  });
  return {
    estimator,
    done,
    shutdown: async () => {
      estimator.stop();
      await done;
    },
  };
}

export async function serveEstimator(config: Readonly<EstimatorConfig>, logger: Logger): Promise<void> {
  const running = runEstimator(config, logger);
  const signal = await Promise.race([untilStopSignal(), running.done.then(() => undefined)]);
  logger.info('stopping', { signal: signal ?? null });
  await running.shutdown();
}

export function main(argv: readonly string[], env: NodeJS.ProcessEnv): void {
  const bootLogger = createLogger({ component: 'estimator' });
  const fail = (error: unknown) => {
    bootLogger.error((error as Error).message, {
      code: (error as { code?: unknown }).code,
      key: (error as { key?: unknown }).key,
    });
    return error instanceof ConfigError ? 2 : 1;
  };
  let config: Readonly<EstimatorConfig>;
  try {
    config = loadEstimatorConfig({ file: argv[0], env });
  } catch (error) {
    process.exitCode = fail(error);
    return;
  }
  serveEstimator(config, createLogger({ component: 'estimator', level: config.logLevel })).then(
    () => process.exit(0),
    (error: unknown) => process.exit(fail(error)),
  );
}

if (require.main === module) main(process.argv.slice(2), process.env);
