import { SingleBar } from 'cli-progress';

/** What a progress display needs to know of the CLI's streams. */
export interface ProgressIo {
  /** Show a progress bar on stderr: only where stderr is a terminal (never into a redirected log). */
  progress: boolean;
}

export interface ProgressBar {
  update: (done: number, total: number, payload?: Record<string, unknown>) => void;
  stop: () => void;
}

/** A progress bar on stderr where `io.progress` (a terminal); `format` in cli-progress's tokens. */
export function progressBar(io: ProgressIo, format: string): ProgressBar {
  if (!io.progress) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({ format, stream: process.stderr, hideCursor: true });
  let started = false;
  return {
    update: (done, total, payload = {}) => {
      if (!started) {
        bar.start(total, 0, payload);
        started = true;
      }
      bar.update(done, payload);
    },
    stop: () => started && bar.stop(),
  };
}
