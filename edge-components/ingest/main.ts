/**
 * Standalone entry point of the ingest component:
 *   node main.js [config.json]       (or SELFCAL_INGEST_CONFIG=<json or path>)
 * Exit codes: 0 after SIGTERM/SIGINT or the end of the parent that started it with an IPC channel
 * (shared/lifecycle.ts: stopWithParentProcess) (pending messages committed and acknowledged, store closed),
 * 2 for a bad configuration or line description, 1 for anything else at start-up.
 */
import { loadConfiguredLines } from '../shared/lines';
import { reportFailure, stopWithParentProcess, untilStopSignal } from '../shared/lifecycle';
import { createLogger, type Logger } from '../../platform/logger';
import { openOutboxStore } from '../store/sqlite-outbox-store';
import { loadIngestConfig, type IngestConfig } from './config';
import { startIngest, type IngestHandle } from './ingest-component';

export interface RunningIngest {
  ingest: IngestHandle;
  /** Stop the ingest and close the store. */
  shutdown(): Promise<void>;
}

export function runIngest(config: IngestConfig, logger: Logger): RunningIngest {
  const lines = loadConfiguredLines(config.lines);
  const store = openOutboxStore({
    path: config.dbPath,
    synchronous: config.synchronous,
    maxBytes: config.maxBytes,
    fullPolicy: config.fullPolicy,
    retentionMs: config.retentionMs,
    destinations: config.destinations,
  });
  const ingest = startIngest({
    brokerUrl: config.brokerUrl,
    clientId: config.clientId,
    lines,
    store,
    logger,
    groupCommit: config.groupCommit,
    maxPayloadBytes: config.maxPayloadBytes,
    reconnectPeriodMs: config.reconnectPeriodMs,
    maxReconnectPeriodMs: config.maxReconnectPeriodMs,
    storeRetryMs: config.storeRetryMs,
  });
  void ingest.ready.then(() => logger.info('ingest ready', { lines: lines.map((l) => l.line.id) }));
  const housekeeping = setInterval(() => {
    try {
      const deleted = store.applyRetention();
      logger.info('store', { retentionDeleted: deleted, ...store.counters() });
    } catch (error) {
      logger.warn('retention failed; will retry', { error: (error as Error).message });
    }
  }, config.retentionCheckMs);
  housekeeping.unref();
  return {
    ingest,
    shutdown: async () => {
      clearInterval(housekeeping);
      await ingest.stop();
      store.close();
      logger.info('store closed');
    },
  };
}

/** Run until SIGTERM/SIGINT, then stop: pending messages committed and acknowledged, store closed. */
export async function serveIngest(config: IngestConfig, logger: Logger): Promise<void> {
  const running = runIngest(config, logger);
  const signal = await untilStopSignal();
  logger.info('stopping', { signal });
  await running.shutdown();
}

export function main(argv: readonly string[], env: NodeJS.ProcessEnv): void {
  const bootLogger = createLogger({ component: 'ingest' });
  stopWithParentProcess(bootLogger);
  let config: IngestConfig;
  try {
    config = loadIngestConfig({ filePath: argv[0], env });
  } catch (error) {
    process.exitCode = reportFailure(bootLogger, error);
    return;
  }
  serveIngest(config, createLogger({ component: 'ingest', level: config.logLevel })).then(
    () => process.exit(0),
    (error: unknown) => process.exit(reportFailure(bootLogger, error)),
  );
}

if (require.main === module) main(process.argv.slice(2), process.env);
