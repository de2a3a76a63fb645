/**
 * `selfcal replay --csv FILE --line ID`: publishes a historian export over MQTT as a line's sensors would,
 * one message per CSV row on `lines/<lineId>/telemetry` (edge-components/ingest/payload.ts: `{ ts, values }`,
 * ts in epoch seconds), at QoS 1, so the edge path (ingest → outbox → publisher → SiteWise) carries it.
 *
 * The CSV and the column map are those of `selfcal calibrate --csv --columns` (docs/calibrate-csv.md),
 * read by the same reader. Timestamps are rebased into the window SiteWise accepts
 * (platform/sitewise/limits.ts: no older than PAST_WINDOW_MS, no later than now + FUTURE_WINDOW_MS): every
 * row is shifted by the same offset, so that the last row lands at the time the replay starts; spacing is
 * kept to the millisecond. An export (or the `--from`/`--to` part of it) that would not fit, with the
 * replay's own duration at `--speed` and a margin for the publisher, is refused before anything is sent.
 */
import { connect, type MqttClient } from 'mqtt';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { readCalibrationCsv, readColumnMap, parseTime } from '../cloud/calibration-job/csv-input';
import { loadLineFrom } from '../platform/line-file';
import { PAST_WINDOW_MS } from '../platform/sitewise/limits';
import { SelfcalError } from '../twin/errors';
import type { LineTopology } from '../twin/lines/topology';
import { progressBar, type ProgressIo } from './progress';

export type ReplayErrorCode = 'REPLAY_SPAN_TOO_LONG' | 'REPLAY_RANGE_EMPTY' | 'REPLAY_BROKER_UNREACHABLE';

/** Input `selfcal replay` refuses (exit 2): the message says what to change. */
export class ReplayError extends SelfcalError<ReplayErrorCode> {
  constructor(code: ReplayErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ReplayError';
  }
}

export const DEFAULT_REPLAY_BROKER = 'mqtt://127.0.0.1:1883';
/** Time left to the publisher to forward the oldest replayed row before SiteWise would refuse it. */
export const REPLAY_WINDOW_MARGIN_MS = 3_600_000;
/** Messages published and not yet acknowledged (PUBACK) at most. */
export const DEFAULT_MAX_IN_FLIGHT = 64;
const CONNECT_TIMEOUT_MS = 10_000;
/** How long a stopped replay waits for the acknowledgements of the messages in flight. */
const STOP_GRACE_MS = 5_000;

export interface ReplayOptions {
  /** The export: a header row, a time column and signal columns (docs/calibrate-csv.md). */
  csv: string;
  /** Column map file (`--columns MAP.json`); without one the columns are named as signals. */
  columns?: string;
  /** Shipped line id, line description file, or a compiled line. */
  line: string | LineTopology;
  /** Default mqtt://127.0.0.1:1883. */
  brokerUrl?: string;
  /** Default `selfcal-replay-<pid>`. */
  clientId?: string;
  /** Replay N× faster than the export's own spacing; default: as fast as the broker acknowledges. */
  speed?: number;
  maxInFlight?: number;
  /** Only rows with from ≤ time ≤ to (epoch seconds, in the export's own time). */
  from?: number;
  to?: number;
  /** Stops the replay: no new message, the ones in flight acknowledged (or given up after 5 s), then
   * `stopped: true`. */
  signal?: AbortSignal;
  onProgress?: (p: ReplayProgress) => void;
  /** Wall clock (ms), for the rebase; default Date.now. */
  now?: () => number;
}

export interface ReplayProgress {
  /** Rows acknowledged (or skipped as empty) so far, of `totalRows`. */
  rows: number;
  totalRows: number;
  readings: number;
}

export interface ReplaySummary {
  lineId: string;
  topic: string;
  /** Rows of the export in the replayed range. */
  totalRows: number;
  /** Rows handled: published and acknowledged, or skipped because every cell was empty. */
  rows: number;
  /** Messages acknowledged by the broker (one per non-empty row). */
  messages: number;
  /** Readings in those messages (one per non-empty cell). */
  readings: number;
  skippedEmptyCells: number;
  skippedEmptyRows: number;
  /** What was added to every timestamp (ms). */
  offsetMs: number;
  /** Rebased time of the first and last row of the range (epoch ms). */
  firstTsMs: number;
  lastTsMs: number;
  /** The replay was stopped (`signal`) before the end of the range. */
  stopped: boolean;
}

/** A row of the export in its own time (ms); empty cells absent from `values`. */
export interface ReplayRow {
  tsMs: number;
  values: Record<string, number>;
}

/**
 * The offset (ms) that puts the last row at `nowMs`, after checking that the range fits SiteWise's past
 * window with the replay's own duration and the margin.
 */
export function rebaseOffsetMs(
  span: { firstMs: number; lastMs: number },
  nowMs: number,
  speed: number | undefined,
): number {
  const spanMs = span.lastMs - span.firstMs;
  const durationMs = speed === undefined ? 0 : spanMs / speed;
  const limitMs = PAST_WINDOW_MS - REPLAY_WINDOW_MARGIN_MS;
  if (spanMs + durationMs > limitMs) {
    const maxSpanMs = speed === undefined ? limitMs : limitMs / (1 + 1 / speed);
    const suggestedFrom = new Date(span.lastMs - Math.floor(maxSpanMs / 1000) * 1000).toISOString();
    const during =
      speed === undefined ? '' : ` plus the replay's own ${hours(durationMs)} at --speed ${speed}`;
    throw new ReplayError(
      'REPLAY_SPAN_TOO_LONG',
      `the export spans ${hours(spanMs)} (${iso(span.firstMs)} … ${iso(span.lastMs)})${during}; SiteWise ` +
        `takes timestamps at most ${hours(PAST_WINDOW_MS)} old, and the replay keeps ${hours(REPLAY_WINDOW_MARGIN_MS)} ` +
        `for the publisher: replay at most ${hours(maxSpanMs)} at a time, e.g. --from ${suggestedFrom} ` +
        `(and --to), or cut the CSV`,
    );
  }
  return nowMs - span.lastMs;
}

const hours = (ms: number): string => `${(ms / 3_600_000).toFixed(1)} h`;
const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The export's rows between `from` and `to`, read and checked by the calibration CSV reader (its typed
 * errors: CSV_*, COLUMN_MAP_*), with the number of signals it feeds; REPLAY_RANGE_EMPTY without a row.
 */
export async function readReplayRows(
  o: Pick<ReplayOptions, 'csv' | 'columns' | 'from' | 'to'>,
  topology: LineTopology,
): Promise<{ rows: ReplayRow[]; signals: number }> {
  const columnMap = o.columns === undefined ? undefined : await readColumnMap(o.columns, topology);
  const csv = await readCalibrationCsv(o.csv, { topology, ...(columnMap ? { columnMap } : {}) });
  const from = o.from ?? -Infinity;
  const to = o.to ?? Infinity;
  const rows = csv.readings
    .filter((r) => r.ts >= from && r.ts <= to)
    .map((r) => ({ tsMs: Math.round(r.ts * 1000), values: r.values }));
  if (rows.length === 0) {
    throw new ReplayError(
      'REPLAY_RANGE_EMPTY',
      `${o.csv}: no row between --from and --to (the export runs from ${iso(csv.span.fromS * 1000)} to ` +
        `${iso(csv.span.toS * 1000)})`,
    );
  }
  return { rows, signals: csv.signals.length };
}

async function connectBroker(url: string, clientId: string): Promise<MqttClient> {
  const client = connect(url, { clientId, reconnectPeriod: 1000, connectTimeout: CONNECT_TIMEOUT_MS });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no connection in ${CONNECT_TIMEOUT_MS / 1000} s`)),
        CONNECT_TIMEOUT_MS,
      );
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      client.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  } catch (cause) {
    client.end(true);
    throw new ReplayError(
      'REPLAY_BROKER_UNREACHABLE',
      `--broker ${url}: ${(cause as Error).message}; is the broker running (selfcal broker)?`,
      { cause },
    );
  }
  return client;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Waits for the messages in flight to be acknowledged; once the replay is stopped, at most
 * STOP_GRACE_MS (a broker that is gone never acknowledges, and Ctrl-C must still end the replay).
 */
async function settle(inFlight: ReadonlySet<Promise<void>>, signal: AbortSignal | undefined): Promise<void> {
  const all = Promise.all(inFlight).then(() => undefined);
  if (!signal) return all;
  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await Promise.race([all, stopped]);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS)))]);
  clearTimeout(timer);
}

/**
 * Replays a historian export over MQTT (see the file comment). Resolves once every message sent is
 * acknowledged by the broker, with the counts; input problems reject before anything is sent.
 */
export async function replayCsv(o: ReplayOptions): Promise<ReplaySummary> {
  const topology = typeof o.line === 'string' ? loadLineFrom(o.line) : o.line;
  const { rows, signals } = await readReplayRows(o, topology);
  const first = rows[0] as ReplayRow;
  const last = rows[rows.length - 1] as ReplayRow;
  const startMs = (o.now ?? Date.now)();
  const offsetMs = rebaseOffsetMs({ firstMs: first.tsMs, lastMs: last.tsMs }, startMs, o.speed);
  const lineId = topology.line.id;
  const topic = `lines/${lineId}/telemetry`;
  const client = await connectBroker(
    o.brokerUrl ?? DEFAULT_REPLAY_BROKER,
    o.clientId ?? `selfcal-replay-${process.pid}`,
  );
  const summary: ReplaySummary = {
    lineId,
    topic,
    totalRows: rows.length,
    rows: 0,
    messages: 0,
    readings: 0,
    skippedEmptyCells: 0,
    skippedEmptyRows: 0,
    offsetMs,
    firstTsMs: first.tsMs + offsetMs,
    lastTsMs: last.tsMs + offsetMs,
    stopped: false,
  };
  const report = () =>
    o.onProgress?.({ rows: summary.rows, totalRows: rows.length, readings: summary.readings });
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const startedAt = performance.now();
  try {
    for (const row of rows) {
      if (o.signal?.aborted || failure !== undefined) break;
      if (o.speed !== undefined) {
        await sleep((row.tsMs - first.tsMs) / o.speed - (performance.now() - startedAt), o.signal);
        if (o.signal?.aborted) break;
      }
      const cells = Object.keys(row.values).length;
      summary.skippedEmptyCells += signals - cells;
      if (cells === 0) {
        summary.skippedEmptyRows += 1;
        summary.rows += 1;
        report();
        continue;
      }
      const body = JSON.stringify({ ts: (row.tsMs + offsetMs) / 1000, values: row.values });
      const sent: Promise<void> = client.publishAsync(topic, body, { qos: 1 }).then(
        () => {
          inFlight.delete(sent);
          summary.messages += 1;
          summary.readings += cells;
          summary.rows += 1;
          report();
        },
        (err: unknown) => {
          inFlight.delete(sent);
          failure ??= err;
        },
      );
      inFlight.add(sent);
      if (inFlight.size >= (o.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT)) await Promise.race(inFlight);
    }
    await settle(inFlight, o.signal);
  } finally {
    // Forced when a stop left messages unacknowledged (the broker gone): they are not counted.
    await client.endAsync(inFlight.size > 0);
  }
  if (failure !== undefined) throw failure;
  summary.stopped = summary.rows < rows.length;
  return summary;
}

/** The final count line of `selfcal replay`. */
export function formatReplaySummary(s: ReplaySummary, stoppedBy?: string): string {
  const head = s.stopped
    ? `stopped${stoppedBy ? ` by ${stoppedBy}` : ''} after ${s.rows} of ${s.totalRows} rows`
    : `replayed ${s.rows} rows`;
  return (
    `${head} to ${s.topic}: ${s.readings} readings published in ${s.messages} messages, ` +
    `${s.skippedEmptyCells} empty cells skipped (${s.skippedEmptyRows} empty rows); ` +
    `timestamps shifted by ${(s.offsetMs / 1000).toFixed(3)} s (${iso(s.firstTsMs)} … ${iso(s.lastTsMs)})`
  );
}

function positive(raw: string): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v <= 0)
    throw new InvalidArgumentError(`'${raw}' is not a positive number.`);
  return v;
}

function timeArgument(raw: string): number {
  const t = parseTime(raw.trim());
  if (t === undefined)
    throw new InvalidArgumentError(
      `'${raw}' is not a time; give epoch seconds or ISO-8601 with a zone (e.g. 2026-01-01T00:00:00Z).`,
    );
  return t.seconds;
}

interface ReplayCliOptions {
  csv: string;
  columns?: string;
  line: string;
  speed?: number;
  broker: string;
  clientId?: string;
  from?: number;
  to?: number;
  maxInFlight: number;
}

export function registerReplayCommand(
  program: Command,
  io: ProgressIo & { stdout: (text: string) => void; stderr: (text: string) => void },
): void {
  program
    .command('replay')
    .description(
      "publish a historian export (CSV) over MQTT as the line's sensors would, timestamps rebased to end now",
    )
    .requiredOption('--csv <file>', 'CSV with a header row, a time column and numeric columns (see README)')
    .option(
      '--columns <map.json>',
      'JSON map from CSV columns to signal names (default: columns named as signals)',
    )
    .requiredOption('--line <id|path>', 'shipped line id or path to a line description JSON')
    .addOption(
      new Option(
        '--speed <n>',
        "replay N× faster than the export's spacing (default: as fast as acknowledged)",
      ).argParser(positive),
    )
    .option('--broker <url>', 'MQTT broker', DEFAULT_REPLAY_BROKER)
    .option('--client-id <id>', 'MQTT client id (default selfcal-replay-<pid>)')
    .addOption(
      new Option('--from <time>', 'replay only rows at or after this time (export time)').argParser(
        timeArgument,
      ),
    )
    .addOption(
      new Option('--to <time>', 'replay only rows at or before this time (export time)').argParser(
        timeArgument,
      ),
    )
    .addOption(
      new Option('--max-in-flight <n>', 'messages awaiting their PUBACK at most')
        .argParser((raw) => {
          const v = positive(raw);
          if (!Number.isInteger(v)) throw new InvalidArgumentError(`'${raw}' is not an integer.`);
          return v;
        })
        .default(DEFAULT_MAX_IN_FLIGHT),
    )
    .action((o: ReplayCliOptions) => runReplayCommand(io, o));
}

async function runReplayCommand(
  io: ProgressIo & { stdout: (text: string) => void; stderr: (text: string) => void },
  o: ReplayCliOptions,
): Promise<void> {
  const stop = new AbortController();
  let stoppedBy: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    stoppedBy = signal;
    io.stderr(`\n${signal}: stopping after the messages in flight are acknowledged\n`);
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const bar = progressBar(io, 'replaying [{bar}] {percentage}% | {value}/{total} rows | {readings} readings');
  let nextLine = 0;
  let summary: ReplaySummary;
  try {
    summary = await replayCsv({
      csv: o.csv,
      ...(o.columns === undefined ? {} : { columns: o.columns }),
      line: o.line,
      brokerUrl: o.broker,
      ...(o.clientId === undefined ? {} : { clientId: o.clientId }),
      ...(o.speed === undefined ? {} : { speed: o.speed }),
      ...(o.from === undefined ? {} : { from: o.from }),
      ...(o.to === undefined ? {} : { to: o.to }),
      maxInFlight: o.maxInFlight,
      signal: stop.signal,
      onProgress: (p) => {
        bar.update(p.rows, p.totalRows, { readings: p.readings });
        // Without a terminal: a line at every tenth of the rows.
        if (!io.progress && p.rows >= nextLine) {
          io.stderr(`replayed ${p.rows}/${p.totalRows} rows, ${p.readings} readings\n`);
          nextLine = Math.min(p.totalRows, p.rows + Math.max(1, Math.ceil(p.totalRows / 10)));
        }
      },
    });
  } finally {
    bar.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  io.stdout(`${formatReplaySummary(summary, stoppedBy)}\n`);
}
