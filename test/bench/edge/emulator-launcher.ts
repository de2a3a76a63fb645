/**
 * Bench-only launcher: the SiteWise emulator in its own process (`node -r tsx/cjs emulator-launcher.ts
 * <db>`), so that neither the publisher nor the SDK baseline shares a thread with it. Prints the
 * emulator's 'listening' JSON line (with the endpoint) and stops on SIGTERM.
 */
import { runSitewiseEmulatorCli } from '../../../simulators/sitewise/cli';

runSitewiseEmulatorCli({ port: 0, db: process.argv[2] ?? ':memory:' }).then(
  ({ stopped }) => stopped.then(() => process.exit(0)),
  (error: unknown) => {
    process.stderr.write(`emulator failed: ${String(error)}\n`);
    process.exit(1);
  },
);
