/**
 * Standalone entry point of the ingest component:
 *   node main.js [config.json]       (or SELFCAL_INGEST_CONFIG=<json or path>)
 * Exit codes: 0 after SIGTERM/SIGINT (pending messages committed and acknowledged, store closed),
 * 2 for a bad configuration or line description, 1 for anything else at start-up.
 */
import { LineDescriptionError } from '../../twin/errors';
import { loadLine, type LineTopology } from '../../twin/lines/topology';
import { createLogger, type Logger } from '../shared/logger';
import { openOutboxStore } from '../store/sqlite-outbox-store';
import { loadIngestConfig, type IngestConfig } from './config';
import { IngestError } from './errors';
import { startIngest, type IngestHandle } from './ingest-component';

function loadLines(config: IngestConfig): LineTopology[] {
  return config.lines.map((idOrPath, i) => {
    try {
      return loadLine(idOrPath);
    } catch (cause) {
      if (!(cause instanceof LineDescriptionError)) throw cause;
      throw new IngestError('INGEST_CONFIG_INVALID', `config key 'lines/${i}': ${cause.message}`, {
        cause,
        key: `lines/${i}`,
      });
    }
  });
}

export interface RunningIngest {
  ingest: IngestHandle;
  /** Stop the ingest and close the store. */
  shutdown(): Promise<void>;
}

export function runIngest(config: IngestConfig, logger: Logger): RunningIngest {
  const lines = loadLines(config);
  const store = openOutboxStore({
    path: config.dbPath,
    synchronous: config.synchronous,
    maxBytes: config.maxBytes,
    fullPolicy: config.fullPolicy,
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
    storeRetryMs: config.storeRetryMs,
  });
  void ingest.ready.then(() => logger.info('ingest ready', { lines: lines.map((l) => l.line.id) }));
  return {
    ingest,
    shutdown: async () => {
      await ingest.stop();
      store.close();
      logger.info('store closed');
    },
  };
}

export function main(argv: readonly string[], env: NodeJS.ProcessEnv): void {
  let config: IngestConfig;
  let running: RunningIngest;
  const bootLogger = createLogger({ component: 'ingest' });
  try {
    config = loadIngestConfig({ filePath: argv[0], env });
    running = runIngest(config, createLogger({ component: 'ingest', level: config.logLevel }));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    bootLogger.error((error as Error).message, { code, key: (error as { key?: unknown }).key });
    process.exitCode = code === 'INGEST_CONFIG_INVALID' ? 2 : 1;
    return;
  }
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) return;
    stopping = true;
    bootLogger.info('stopping', { signal });
    running.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        bootLogger.error('shutdown failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

if (require.main === module) main(process.argv.slice(2), process.env);
