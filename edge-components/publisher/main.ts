import { IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';
import { loadConfig } from '../shared/config';
import { reportFailure, untilStopSignal } from '../shared/lifecycle';
import { createLogger } from '../shared/logger';
import { openOutboxStore } from '../store/sqlite-outbox-store';
import { FolderBulkExporter } from './bulk-export';
import {
  aliasFromTemplate,
  PUBLISHER_CONFIG_ENV,
  PUBLISHER_DEFAULTS,
  publisherConfigSchema,
  type PublisherConfig,
} from './config';
import { SitewisePublisher } from './sitewise-publisher';

/**
 * Standalone publisher: `selfcal publisher --config FILE` (or SELFCAL_PUBLISHER_CONFIG). Logs JSON lines;
 * SIGTERM/SIGINT stop after the call in flight and close the database. Exit codes: 0 stopped cleanly,
 * 2 bad configuration, 1 failure.
 */
export async function runPublisher(options: { configFile?: string } = {}): Promise<number> {
  const config = loadConfig<PublisherConfig>(publisherConfigSchema, {
    file: options.configFile,
    envVar: PUBLISHER_CONFIG_ENV,
    defaults: PUBLISHER_DEFAULTS,
  });
  const logger = createLogger({ component: 'publisher', level: config.logLevel });
  const store = openOutboxStore({ path: config.dbPath, synchronous: config.synchronous });
  const region = config.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const client = new IoTSiteWiseClient({
    region,
    ...(config.endpoint ? { endpoint: config.endpoint, disableHostPrefix: true } : {}),
  });
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
  runPublisher().then(
    (code) => process.exit(code),
    (error: unknown) => process.exit(reportFailure(createLogger({ component: 'publisher' }), error)),
  );
}
