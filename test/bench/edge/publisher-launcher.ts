/**
 * Bench-only launcher of the standalone publisher (`runPublisher`, configuration from the file named by
 * SELFCAL_PUBLISHER_CONFIG), as its own process: exits with runPublisher's code.
 */
import { runPublisher } from '../../../edge-components/publisher/main';

runPublisher().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`publisher failed: ${String(error)}\n`);
    process.exit(1);
  },
);
