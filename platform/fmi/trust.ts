/**
 * The trust rule (docs/fmi.md "Trust"): loading an FMU runs its native code with this process's rights,
 * so by default an FMU is loaded only from a file that no other user could have written: the file is
 * owned by the current user or root and is writable by neither group nor others, and so is the folder
 * holding it (a sticky folder such as /tmp is accepted: others cannot replace a file in it). Anything
 * else is FMU_UNTRUSTED_PATH unless the caller passes `trust: true` (`--trust-fmu`).
 *
 * The file is checked through the descriptor it is then read from (no check-then-swap window).
 */
import { fstatSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { FmiError } from './errors';

/** The parts of a stat result the rule reads. */
export interface OwnerAndMode {
  uid: number;
  mode: number;
}

const GROUP_OR_OTHER_WRITE = 0o022;
const STICKY = 0o1000;

/**
 * Why a file or folder owned and moded as `st` is not trusted by user `uid`, or undefined when it is.
 * Pure: the rule itself, for tests and for the checks below.
 */
export function trustProblem(kind: 'file' | 'folder', st: OwnerAndMode, uid: number): string | undefined {
  if (st.uid !== uid && st.uid !== 0) {
    return `the ${kind} is owned by user ${st.uid}, not by you (${uid}) or root`;
  }
  const writable = (st.mode & GROUP_OR_OTHER_WRITE) !== 0;
  if (writable && !(kind === 'folder' && (st.mode & STICKY) !== 0)) {
    const perms = (st.mode & 0o7777).toString(8).padStart(4, '0');
    return `the ${kind} is writable by ${st.mode & 0o002 ? 'other users' : 'its group'} (mode ${perms})`;
  }
  return undefined;
}

/** The current user's id, or undefined where the platform has none (Windows). */
function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

/**
 * Check the FMU open at `fd` (its path `path`) and its folder against the trust rule; throws
 * FMU_UNTRUSTED_PATH naming the problem and the way out.
 */
export function checkFmuTrust(fd: number, path: string): void {
  const uid = currentUid();
  const refuse = (problem: string) =>
    new FmiError(
      'FMU_UNTRUSTED_PATH',
      `${path}: not loaded, ${problem}. Loading an FMU runs its native code with your rights; move it to a folder only you can write (chmod go-w), or pass trust (--trust-fmu) if you trust whoever could have written it`,
    );
  if (uid === undefined) throw refuse('file ownership cannot be checked on this platform');
  const fileProblem = trustProblem('file', fstatSync(fd), uid);
  if (fileProblem) throw refuse(fileProblem);
  const folder = dirname(realpathSync(path));
  const folderProblem = trustProblem('folder', statSync(folder), uid);
  if (folderProblem) throw refuse(`${folderProblem.replace('the folder', `its folder ${folder}`)}`);
}
