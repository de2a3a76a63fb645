/**
 * `selfcal demo` (the live loop): runs it, shows progress on stderr (a one-line display on a terminal,
 * plain log lines otherwise), prints the summary (or `--json`), writes `<out>/summary.json` and
 * `<out>/report-data.json`, `<out>/report.html` (cli/report/render-report.ts), and stops everything it
 * started, on Ctrl-C / SIGTERM too. A SIGKILL it cannot handle: its child processes then stop on their own
 * (children.ts, simulators/batch/runner.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { isLineFilePath } from '../../platform/line-file';
import {
  checkLiveOptions,
  runLiveDemo,
  type LiveDemoOptions,
  type LiveProgress,
  type LiveRun,
} from './live-demo';
import { buildSummary, formatLiveSummary, type LiveSummary } from './summary';
import { renderReport } from '../report/render-report';

export interface LiveCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  progress: boolean;
}

/** The live demo's options as the command takes them: the line as given, and whether to print JSON. */
export interface LiveCommandOptions extends Omit<
  LiveDemoOptions,
  'lineRef' | 'now' | 'signal' | 'onEvent' | 'onProgress'
> {
  /** Line description as given (a shipped id or a path). */
  line: string;
  json: boolean;
}

export interface LiveCommandResult {
  summary?: LiveSummary;
  interrupted: boolean;
}

export async function runLiveDemoCommand(
  io: LiveCommandIo,
  o: LiveCommandOptions,
): Promise<LiveCommandResult> {
  checkLiveOptions(o);
  // Created by the stack: input refused before the start (a bad export) leaves no folder behind.
  const outDir = resolve(o.outDir);
  const lineRef = isLineFilePath(o.line) && !isAbsolute(o.line) ? resolve(o.line) : o.line;
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!controller.signal.aborted)
      io.stderr(`\n${signal}: stopping the demo (components, emulators, broker)…\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const display = progressDisplay(io);
  let run: LiveRun | undefined;
  try {
    run = await runLiveDemo({
      ...o,
      lineRef,
      outDir,
      signal: controller.signal,
      onEvent: display.event,
      onProgress: display.progress,
    });
    display.clear();
    const { summary, report } = await buildSummary(run, o.topology, run.stack.sitewiseClient);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    writeFileSync(join(outDir, 'report-data.json'), `${JSON.stringify(report)}\n`);
    writeFileSync(join(outDir, 'report.html'), renderReport(report));
    io.stdout(o.json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatLiveSummary(summary)}\n`);
    if (!o.json)
      io.stdout(
        `output: ${outDir} (report.html, summary.json, report-data.json, logs/, outbox.db, sitewise.db)\n`,
      );
    return { summary, interrupted: run.interrupted };
  } finally {
    display.clear();
    await run?.stack.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function progressDisplay(io: LiveCommandIo) {
  let shown = false;
  let last = 0;
  const clear = () => {
    if (shown) io.stderr('\r\x1b[2K');
    shown = false;
  };
  return {
    clear,
    event: (text: string) => {
      clear();
      io.stderr(`[demo] ${text}\n`);
    },
    progress: (p: LiveProgress) => {
      if (!io.progress) return;
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      const line =
        `day ${p.simulatedDay.toFixed(2)}/${Number(p.days.toFixed(2))} | ${Math.round(p.readingsPerSecond)} readings/s | ` +
        `backlog ${p.sitewiseBacklog} (SiteWise) ${p.estimatorBacklog} (estimator) | ${p.phase}` +
        (p.lastCalibration ? ` | last calibration ${p.lastCalibration}` : '');
      io.stderr(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 160) - 1)}`);
      shown = true;
    },
  };
}
