import { readFaultScheduleFile } from './faults';
import { startSitewiseEmulator } from './emulator';
import type { SitewiseEmulator } from './emulator';

export interface SitewiseEmulatorCliOptions {
  port: number;
  /** SQLite file path (':memory:' for a throw-away store). */
  db: string;
  host?: string;
  /** JSON FaultSchedule file. */
  faultsFile?: string;
  /** Where the JSON log lines go (stdout by default). */
  log?: (line: string) => void;
}

/**
 * Standalone mode: starts the emulator, logs one JSON line when listening and closes cleanly on
 * SIGTERM/SIGINT. Resolves with the handle (and a promise that settles once it has shut down).
 */
export async function runSitewiseEmulatorCli(
  options: SitewiseEmulatorCliOptions,
): Promise<{ emulator: SitewiseEmulator; stopped: Promise<void> }> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const emulator = await startSitewiseEmulator({
    port: options.port,
    host: options.host,
    dbPath: options.db,
    faults: options.faultsFile ? readFaultScheduleFile(options.faultsFile) : undefined,
  });
  log(JSON.stringify({ msg: 'listening', endpoint: emulator.endpoint, port: emulator.port, db: options.db }));
  const stopped = new Promise<void>((resolve, reject) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      emulator.close().then(() => {
        log(JSON.stringify({ msg: 'stopped', signal }));
        resolve();
      }, reject);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  return { emulator, stopped };
}
