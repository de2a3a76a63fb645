import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSitewiseClient, regionOf } from '../../platform/aws';
import { loadConfig } from '../../platform/config';
import { aliasFromTemplate } from '../../platform/sitewise/aliases';
import { reportFailure, stopWithParentProcess, untilStopSignal } from '../shared/lifecycle';
import { createLogger, type Logger } from '../../platform/logger';
import { StoreError } from '../store/errors';
import { openOutboxStore } from '../store/sqlite-outbox-store';
import { FolderBulkExporter } from './bulk-export';
import {
  PUBLISHER_CONFIG_ENV,
  PUBLISHER_DEFAULTS,
  publisherConfigSchema,
  type PublisherConfig,
} from './config';
import { SitewisePublisher } from './sitewise-publisher';

/**
 * Standalone publisher: `selfcal publisher --config FILE` (or SELFCAL_PUBLISHER_CONFIG). Logs JSON lines;
 * SIGTERM/SIGINT (or, run as a bundle, the end of the parent that started it with an IPC channel:
 * shared/lifecycle.ts) stop after the call in flight and close the database. Exit codes: 0 stopped cleanly,
 * 2 bad configuration, 1 failure.
 */
export async function runPublisher(
  options: { configFile?: string; overrides?: Partial<PublisherConfig> } = {},
): Promise<number> {
  const config = loadConfig<PublisherConfig>(publisherConfigSchema, {
    file: options.configFile,
    ...(options.overrides ? { overrides: options.overrides } : {}),
    envVar: PUBLISHER_CONFIG_ENV,
    defaults: PUBLISHER_DEFAULTS,
  });
  const logger = createLogger({ component: 'publisher', level: config.logLevel });
  await waitForOutbox(config.dbPath, config.outboxWaitS * 1000, logger);
  const store = openOutboxStore({ path: config.dbPath, synchronous: config.synchronous });
  const region = regionOf(config.region, process.env);
  const client = createSitewiseClient({ ...config, region }, process.env);
  const publisher = new SitewisePublisher({
    store,
    client,
    aliasFor: aliasFromTemplate(config.aliasTemplate),
    valuesPerSecond: config.valuesPerSecond,
    batchSize: config.batchSize,
    backoff: config.backoff,
    ...(config.bulkExportDir ? { bulkExporter: new FolderBulkExporter(config.bulkExportDir) } : {}),
    logger,
  });
  void untilStopSignal().then((signal) => {
    logger.info('stopping', { signal });
    publisher.stop();
  });
  const metrics = setInterval(() => logger.info('metrics', { ...publisher.metrics() }), 60_000);
  metrics.unref();
  logger.info('started', { dbPath: config.dbPath, endpoint: config.endpoint ?? `aws:${region}` });
  try {
    await publisher.run();
    return 0;
  } finally {
    clearInterval(metrics);
    logger.info('stopped', { ...publisher.metrics().totals });
    client.destroy();
    store.close();
  }
}

if (require.main === module) {
  stopWithParentProcess(createLogger({ component: 'publisher' }));
  runPublisher().then(
    (code) => process.exit(code),
    (error: unknown) => process.exit(reportFailure(createLogger({ component: 'publisher' }), error)),
  );
}

/**
 * The publisher reads the outbox the ingest writes: it waits up to `waitMs` for the file to appear (logging
 * where it looks), then refuses a missing one with STORE_NOT_FOUND naming the path (opening it would create
 * an empty outbox that nothing writes to: a mistyped dbPath would publish nothing, forever, in silence).
 */
export async function waitForOutbox(
  dbPath: string,
  waitMs: number,
  logger: Pick<Logger, 'warn'>,
  pollMs = 250,
): Promise<void> {
  const path = resolve(dbPath);
  const until = Date.now() + waitMs;
  let warned = 0;
  while (!existsSync(path)) {
    if (Date.now() >= until) {
      throw new StoreError(
        'STORE_NOT_FOUND',
        `no outbox at ${path} (dbPath '${dbPath}'${waitMs > 0 ? `, waited ${waitMs / 1000} s` : ''}); ` +
          'the ingest creates it: check dbPath, or start the ingest first',
      );
    }
    if (Date.now() - warned >= 10_000) {
      logger.warn('waiting for the outbox (the ingest creates it)', { path, waitS: waitMs / 1000 });
      warned = Date.now();
    }
    await sleep(pollMs);
  }
}
