/**
 * Learning that the parent that started this process is gone. A Node parent that spawns a process with an
 * IPC channel (`stdio: [..., 'ipc']`: the live demo's edge components, the Batch emulator's job processes)
 * holds one end of a socket pair; the operating system closes it when the parent exits, however it exits
 * (SIGKILL included, which no handler of the parent can forward to its children), and the child sees
 * `disconnect`. A process started without a channel (Greengrass's lifecycle, a shell, a Batch container)
 * has `process.connected` undefined and is not affected.
 */

/**
 * Calls `onGone` once the parent's channel closes. Call it at start, from an entry point (never from a
 * library: a jest worker has a channel too). Returns whether this process has a channel.
 */
export function onParentExit(onGone: () => void): boolean {
  const channel = process.channel;
  if (process.connected !== true || !channel) return false;
  process.once('disconnect', onGone);
  // Listening for `disconnect` references the channel; it must not keep the process alive by itself
  // (a component that fails its start-up sets its exit code and lets the event loop end).
  channel.unref();
  // With the parent gone, stdout and stderr may be pipes that no one reads: a log line written on the way
  // out fails with EPIPE, which must not cut the stop short.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', ignoreBrokenPipe);
  return true;
}

function ignoreBrokenPipe(error: NodeJS.ErrnoException): void {
  if (error.code !== 'EPIPE') throw error;
}
