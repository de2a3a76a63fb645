/**
 * `selfcal replay` against the in-process local broker and the real ingest component writing a real
 * SQLite outbox: what the export holds arrives once, rebased into SiteWise's window, spacing kept.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runCli } from '../../cli/main';
import { REPLAY_WINDOW_MARGIN_MS, replayCsv } from '../../cli/replay';
import { startIngest, type IngestHandle } from '../../edge-components/ingest/ingest-component';
import type { OutboxStore, StoredReading } from '../../edge-components/store/contract';
import { openOutboxStore } from '../../edge-components/store/sqlite-outbox-store';
import { memoryLogger } from '../../platform/logger';
import { PAST_WINDOW_MS } from '../../platform/sitewise/limits';
import { startLocalBroker, type LocalBroker } from '../../simulators/broker/index';
import { createSitewiseClient, startSitewiseEmulator } from '../../simulators/sitewise/index';
import { SitewisePublisher } from '../../edge-components/publisher/sitewise-publisher';
import { DEFAULT_ALIAS_TEMPLATE, aliasFromTemplate, propertyAlias } from '../../platform/sitewise/aliases';
import { loadLine } from '../../twin/lines/topology';
import { tempDir, waitFor } from '../unit/edge-components/ingest/support';

const LINE = 'reference-web-line';
const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z
const AUDIT = 'test-audit';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), progress: false });
  return { code, out, err };
}

/** A historian export: its own column names, uneven spacing, empty cells and one empty row (11). */
function historianCsv(rows: number): { text: string; times: number[]; cells: Map<string, number> } {
  const times: number[] = [];
  const cells = new Map<string, number>();
  const lines = ['time,speed_r1,tension_s2,speed_nr1,comment'];
  let t = T0;
  for (let i = 0; i < rows; i++) {
    t += i % 7 === 0 ? 2.5 : 10; // uneven, with sub-second parts
    times.push(t);
    const row = {
      Roller1_w: i === 11 || i % 5 === 3 ? '' : (20 + i / 100).toFixed(3),
      S2_Tension_N: i === 11 ? '' : (100 + i).toFixed(1),
      NR1_w: i === 11 || i % 4 === 1 ? '' : (-3 - i / 10).toFixed(2),
    };
    lines.push(`${t},${row.Roller1_w},${row.S2_Tension_N},${row.NR1_w},note ${i}`);
    for (const [signal, v] of Object.entries(row)) if (v !== '') cells.set(`${signal}@${i}`, Number(v));
  }
  return { text: `${lines.join('\n')}\n`, times, cells };
}

const MAP = {
  time: 'time',
  signals: { speed_r1: 'Roller1_w', tension_s2: 'S2_Tension_N', speed_nr1: 'NR1_w' },
};

describe('selfcal replay', () => {
  const tmp = tempDir('replay');
  let broker: LocalBroker;
  let store: OutboxStore;
  let ingest: IngestHandle;
  const mapFile = join(tmp.dir, 'map.json');

  beforeAll(async () => {
    broker = await startLocalBroker({ port: 0 });
    store = openOutboxStore({ path: join(tmp.dir, 'outbox.db'), destinations: [AUDIT] });
    ingest = startIngest({
      brokerUrl: broker.url,
      clientId: 'replay-test-ingest',
      lines: [loadLine(LINE)],
      store,
      logger: memoryLogger('ingest'),
      reconnectPeriodMs: 50,
    });
    await ingest.ready;
    writeFileSync(mapFile, JSON.stringify(MAP));
  });
  afterAll(async () => {
    await ingest.stop();
    store.close();
    await broker.close();
    tmp.remove();
  });

  /** The rows the ingest committed since the last call (read through the store's cursor, then acknowledged). */
  const committedRows = (): StoredReading[] => {
    const rows = store.readAfterCursor(AUDIT, 1_000_000);
    const last = rows[rows.length - 1];
    if (last) store.acknowledge(AUDIT, last.id, { published: rows.length });
    return rows;
  };
  /**
   * The rows the ingest commits until there are `n` (a broker's PUBACK to the replay says nothing of the
   * ingest's delivery, so the test waits for the outbox), then any more that came with them.
   */
  const arrived = async (n: number): Promise<StoredReading[]> => {
    const rows: StoredReading[] = [];
    await waitFor(() => rows.push(...committedRows()) >= n, 30_000, `${n} readings in the outbox`);
    return rows;
  };

  it('publishes every reading of the export once, rebased to end now, spacing kept', async () => {
    // Arrange
    const csv = join(tmp.dir, 'export.csv');
    const data = historianCsv(40);
    writeFileSync(csv, data.text);
    const before = Date.now();
    // Act
    const r = await cli('replay', '--csv', csv, '--columns', mapFile, '--line', LINE, '--broker', broker.url);
    const after = Date.now();
    // Assess: the count line
    expect(r.code).toBe(0);
    const emptyCells = 40 * 3 - data.cells.size;
    expect(r.out).toMatch(
      new RegExp(
        `^replayed 40 rows to lines/${LINE}/telemetry: ${data.cells.size} readings published in 39 messages, ` +
          `${emptyCells} empty cells skipped \\(1 empty rows\\)`,
      ),
    );
    expect(r.err).toMatch(/replayed 40\/40 rows/);
    // Assess: each reading once, at its rebased time
    const rows = await arrived(data.cells.size);
    expect(rows).toHaveLength(data.cells.size);
    const last = data.times[data.times.length - 1] as number;
    const lastMs = Math.max(...rows.map((row) => row.tsMs));
    expect(lastMs).toBeGreaterThanOrEqual(before);
    expect(lastMs).toBeLessThanOrEqual(after);
    const offsetMs = lastMs - Math.round(last * 1000);
    const indexOf = new Map(data.times.map((t, i) => [Math.round(t * 1000) + offsetMs, i]));
    const seen = new Map<string, number>();
    for (const row of rows) {
      const i = indexOf.get(row.tsMs);
      expect(i).toBeDefined();
      const key = `${row.signal}@${i}`;
      expect(seen.has(key)).toBe(false);
      seen.set(key, row.value);
      expect(row.lineId).toBe(LINE);
      expect(row.tsMs).toBeGreaterThan(after - PAST_WINDOW_MS + REPLAY_WINDOW_MARGIN_MS);
    }
    expect(seen).toEqual(data.cells);
  });

  it('paces the replay at --speed N and still delivers everything', async () => {
    const csv = join(tmp.dir, 'paced.csv');
    const data = historianCsv(12);
    writeFileSync(csv, data.text);
    const r = await cli(
      'replay',
      '--csv',
      csv,
      '--columns',
      mapFile,
      '--line',
      LINE,
      '--broker',
      broker.url,
      '--speed',
      '500',
    );
    expect(r.code).toBe(0);
    expect(await arrived(data.cells.size)).toHaveLength(data.cells.size);
  });

  it('stops on its signal: what it reports as published is what the outbox holds', async () => {
    const csv = join(tmp.dir, 'stopped.csv');
    writeFileSync(csv, historianCsv(30).text);
    const stop = new AbortController();
    const summary = await replayCsv({
      csv,
      columns: mapFile,
      line: LINE,
      brokerUrl: broker.url,
      maxInFlight: 1, // one message at a time: the stop lands after exactly 5 rows
      signal: stop.signal,
      onProgress: (p) => {
        if (p.rows === 5) stop.abort();
      },
    });
    expect(summary).toMatchObject({ stopped: true, rows: 5, totalRows: 30, messages: 5 });
    expect(await arrived(summary.readings)).toHaveLength(summary.readings);
  });

  it('stops cleanly on Ctrl-C (SIGINT) as a process, saying how many were published', async () => {
    // Arrange: a slow replay (10 s rows at --speed 10: one a second) of a long export
    const csv = join(tmp.dir, 'sigint.csv');
    writeFileSync(csv, historianCsv(200).text);
    const child = spawn(
      process.execPath,
      [
        'cli/bin.js',
        'replay',
        '--csv',
        csv,
        '--columns',
        mapFile,
        '--line',
        LINE,
        '--broker',
        broker.url,
        '--speed',
        '10',
      ],
      { cwd: resolve(__dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await waitFor(() => /replayed 1\/200 rows/.test(err), 60_000, 'the first row replayed');
    // Act
    child.kill('SIGINT');
    const code = await exit;
    // Assess
    expect(code).toBe(0);
    expect(err).toMatch(/SIGINT: stopping/);
    const m = /^stopped by SIGINT after (\d+) of 200 rows .*: (\d+) readings published/.exec(out);
    expect(m).not.toBeNull();
    const readings = Number(m?.[2]);
    expect(Number(m?.[1])).toBeLessThan(200);
    expect(await arrived(readings)).toHaveLength(readings);
  }, 90_000);

  it('replays only --from … --to, in the export’s own time', async () => {
    const csv = join(tmp.dir, 'range.csv');
    const data = historianCsv(20);
    writeFileSync(csv, data.text);
    const from = data.times[2] as number;
    const to = new Date((data.times[9] as number) * 1000).toISOString();
    const summary = await replayCsv({
      csv,
      columns: mapFile,
      line: LINE,
      brokerUrl: broker.url,
      from,
      to: Date.parse(to) / 1000,
    });
    expect(summary.totalRows).toBe(8);
    const expected = [...data.cells.keys()].filter((k) => {
      const i = Number(k.split('@')[1]);
      return i >= 2 && i <= 9;
    }).length;
    expect(summary.readings).toBe(expected);
    expect(await arrived(expected)).toHaveLength(expected);
  });

  it('refuses an export longer than the window, before publishing, naming --from', async () => {
    const csv = join(tmp.dir, 'long.csv');
    writeFileSync(csv, `ts,Roller1_w\n${T0},1\n${T0 + 8 * 86_400},2\n`);
    const r = await cli('replay', '--csv', csv, '--line', LINE, '--broker', broker.url);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/REPLAY_SPAN_TOO_LONG/);
    expect(r.err).toMatch(/--from 20\d\d-/);
    expect(committedRows()).toHaveLength(0);
  });

  it('counts the replay’s own duration at --speed against the window', async () => {
    // 4 days fit at full speed, not at --speed 1 (4 more days of replay)
    const csv = join(tmp.dir, 'four-days.csv');
    writeFileSync(csv, `ts,Roller1_w\n${T0},1\n${T0 + 4 * 86_400},2\n`);
    const slow = await cli('replay', '--csv', csv, '--line', LINE, '--broker', broker.url, '--speed', '1');
    expect(slow.code).toBe(2);
    expect(slow.err).toMatch(/REPLAY_SPAN_TOO_LONG.*--speed 1/);
    const fast = await cli('replay', '--csv', csv, '--line', LINE, '--broker', broker.url);
    expect(fast.code).toBe(0);
    expect(await arrived(2)).toHaveLength(2);
  });

  it.each([
    [
      'a column map naming an unknown signal',
      'COLUMN_MAP_INVALID',
      { signals: { speed_r1: 'Roller99_w' } },
      null,
    ],
    [
      'a CSV with a non-numeric cell',
      'CSV_NOT_NUMERIC',
      { time: 'time', signals: { speed_r1: 'Roller1_w' } },
      'time,speed_r1\n1767225600,1\n1767225610,fast\n',
    ],
    ['a CSV missing a mapped column', 'CSV_MISSING_COLUMN', MAP, 'time,speed_r1\n1767225600,1\n'],
  ])('refuses %s with its typed error (exit 2), publishing nothing', async (_what, code, map, text) => {
    const csv = join(tmp.dir, `bad-${code}.csv`);
    writeFileSync(csv, text ?? 'time,speed_r1\n1767225600,1\n');
    const badMap = join(tmp.dir, `bad-${code}.json`);
    writeFileSync(badMap, JSON.stringify(map));
    const r = await cli('replay', '--csv', csv, '--columns', badMap, '--line', LINE, '--broker', broker.url);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`error \\[${code}\\]`));
    expect(committedRows()).toHaveLength(0);
  });

  it('names the broker it cannot reach (exit 2)', async () => {
    const gone = await startLocalBroker({ port: 0 });
    await gone.close();
    const csv = join(tmp.dir, 'one.csv');
    writeFileSync(csv, `ts,Roller1_w\n${T0},1\n`);
    const r = await cli('replay', '--csv', csv, '--line', LINE, '--broker', gone.url);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`error \\[REPLAY_BROKER_UNREACHABLE\\]: --broker ${gone.url}`));
  });

  it.each([
    [['--speed', '0'], /'0' is not a positive number/],
    [['--from', 'yesterday'], /'yesterday' is not a time/],
  ])('rejects %j with exit 2 naming the option', async (args, message) => {
    const r = await cli('replay', '--csv', 'x.csv', '--line', LINE, ...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });
});

describe('selfcal replay through the edge path into SiteWise', () => {
  it('lands a 6-day export of last winter inside SiteWise’s window: every value accepted, none expired', async () => {
    // Arrange: broker, ingest and outbox, the publisher and the SiteWise emulator (which enforces
    // [now − 7 days, now + 10 min]); the export's own times are ~a year old
    const tmp = tempDir('replay-e2e');
    const broker = await startLocalBroker({ port: 0 });
    const store = openOutboxStore({ path: join(tmp.dir, 'outbox.db'), destinations: ['sitewise'] });
    const ingest = startIngest({
      brokerUrl: broker.url,
      clientId: 'replay-e2e-ingest',
      lines: [loadLine(LINE)],
      store,
      logger: memoryLogger('ingest'),
    });
    await ingest.ready;
    const emulator = await startSitewiseEmulator();
    const client = createSitewiseClient(emulator.endpoint, { maxAttempts: 1 });
    const csv = join(tmp.dir, 'six-days.csv');
    const rows = Array.from({ length: 145 }, (_, i) => `${T0 + i * 3600},${20 + i / 1000},${100 + i}`);
    writeFileSync(csv, `ts,Roller1_w,S2_Tension_N\n${rows.join('\n')}\n`);

    // Act
    const summary = await replayCsv({ csv, line: LINE, brokerUrl: broker.url });
    await waitFor(() => store.backlog('sitewise') >= 290, 30_000, 'the replay in the outbox');
    const publisher = new SitewisePublisher({
      store,
      client,
      aliasFor: aliasFromTemplate(DEFAULT_ALIAS_TEMPLATE),
      valuesPerSecond: 1_000_000,
      logger: memoryLogger('publisher'),
    });
    const outcome = await publisher.publishBatch();

    // Assess
    expect(summary).toMatchObject({ totalRows: 145, readings: 290, stopped: false });
    expect(outcome).toMatchObject({ read: 290, published: 290, expired: 0, deadLettered: 0 });
    const history = emulator.history(propertyAlias(DEFAULT_ALIAS_TEMPLATE, LINE, 'S2_Tension_N'));
    expect(history.map((p) => p.value.doubleValue)).toEqual(rows.map((_, i) => 100 + i));
    const seconds = history.map((p) => p.timestamp.timeInSeconds);
    expect(seconds.map((s) => s - (seconds[0] as number))).toEqual(rows.map((_, i) => i * 3600));

    client.destroy();
    await emulator.close();
    await ingest.stop();
    store.close();
    await broker.close();
    tmp.remove();
  }, 60_000);
});
