/**
 * Where a worker thread's entry file is, for the way the calling module runs: next to the module's own
 * file. Under jest and tsx that is the `.ts` source, loaded through tsx's CommonJS hook (workers get
 * neither jest's transform nor, once execArgv is given, tsx's); in an esbuild bundle it is `<entry>.js`
 * beside the bundle, which the build emits as a second entry point (package.json `bundle:job`, `bench`).
 */
import { existsSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';

export interface WorkerEntry {
  file: string;
  execArgv: string[];
}

/** The entry `<entryName>.ts|.js` beside `moduleFile`, or undefined where it is not there. */
export function findWorkerEntry(moduleFile: string, entryName: string): WorkerEntry | undefined {
  const ext = extname(moduleFile);
  const file = join(dirname(moduleFile), `${entryName}${ext}`);
  if (!existsSync(file)) return undefined;
  return { file, execArgv: ext === '.ts' ? ['--require', require.resolve('tsx/cjs')] : [] };
}
