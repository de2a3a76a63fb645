/**
 * `selfcal demo --replay FILE --columns MAP.json`: the live loop with a historian export as its source.
 * The export is the plant simulator's readings for half a day, written as a historian would (its own
 * column names in another order, ISO times, an unmapped column, the plant's dropouts as empty cells). The
 * run goes through the CLI (the options as a user gives them, down to the Batch job's config): every value
 * of the export reaches SiteWise once, the summary says the run is a replay and has no truth, and the job
 * runs on the `--threads` it was given.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../cli/main';
import { formatLiveSummary, NO_TRUTH, type LiveSummary } from '../../cli/live-demo/summary';
import type { ReportData } from '../../cli/report/report-data';
import { PlantSimulator } from '../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../simulators/plant/scenario';
import { loadLine } from '../../twin/lines/topology';
import { tempDir } from '../unit/edge-components/ingest/support';

const topology = loadLine();

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), progress: false });
  return { code, out, err };
}

/**
 * Half a day of a healthy plant as a historian exports it: `tag_<k>` columns (reversed order), ISO times,
 * an operator note the map leaves out. Returns the number of values (non-empty mapped cells) and rows.
 */
function writeExport(csvPath: string, mapPath: string): { rows: number; values: number } {
  const signals = topology.line.sensors.map((s) => s.signal);
  const tags = signals.map((_, k) => `tag_${k}`).reverse();
  const signalOf = (tag: string) => signals[Number(tag.slice(4))] as string;
  const sim = new PlantSimulator(topology, defaultScenario({ durationS: 43_200, samplePeriodS: 600 }));
  const lines = [`timestamp,operator_note,${tags.join(',')}`];
  let rows = 0;
  let values = 0;
  for (const { reading } of sim.samples()) {
    const cells = tags.map((tag) => {
      const v = reading.values[signalOf(tag)];
      if (v === undefined) return '';
      values += 1;
      return String(v);
    });
    lines.push(`${new Date(reading.ts * 1000).toISOString()},shift ${rows % 3},${cells.join(',')}`);
    rows += 1;
  }
  writeFileSync(csvPath, `${lines.join('\n')}\n`);
  writeFileSync(
    mapPath,
    JSON.stringify({ time: 'timestamp', signals: Object.fromEntries(tags.map((t) => [t, signalOf(t)])) }),
  );
  return { rows, values };
}

describe('selfcal demo --replay: usage and input refused before anything starts (exit 2)', () => {
  const tmp = tempDir('live-demo-replay-args');
  const csv = join(tmp.dir, 'export.csv');
  const map = join(tmp.dir, 'map.json');
  const out = join(tmp.dir, 'out');
  beforeAll(() => writeExport(csv, map));
  afterAll(() => tmp.remove());

  it.each([
    [['--replay', 'export.csv'], /CLI_ARGUMENT_INVALID\]: --replay needs --columns MAP\.json/],
    [['--columns', 'map.json'], /CLI_ARGUMENT_INVALID\]: --columns applies only with --replay/],
    [['--replay', 'e.csv', '--columns', 'm.json', '--days', '2'], /not with --replay: --days: a replay runs/],
    [['--replay', 'e.csv', '--columns', 'm.json', '--roller', 'R8'], /not with --replay: --roller/],
    [['--replay', 'e.csv', '--columns', 'm.json', '--in-process'], /not with --replay: --in-process/],
  ])('refuses %j', async (args, message) => {
    const r = await cli('demo', ...args, '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it.each([
    ['a column map naming an unknown signal', 'COLUMN_MAP_INVALID', 'map'],
    ['a CSV with a non-numeric cell', 'CSV_NOT_NUMERIC', 'csv'],
    ['an export longer than SiteWise keeps', 'REPLAY_SPAN_TOO_LONG', 'span'],
  ])('refuses %s with the replay’s typed error, starting nothing', async (_what, code, bad) => {
    const badCsv = join(tmp.dir, `bad-${code}.csv`);
    const badMap = join(tmp.dir, `bad-${code}.json`);
    const [header, first, ...rest] = readFileSync(csv, 'utf8').trimEnd().split('\n') as [string, string];
    const lastLine = rest[rest.length - 1] ?? first;
    const cells = lastLine.split(',');
    cells[2] = 'fast';
    writeFileSync(
      badCsv,
      bad === 'csv'
        ? `${header}\n${first}\n${cells.join(',')}\n`
        : bad === 'span'
          ? `${header}\n${first.replace(/^[^,]+/, '2025-01-01T00:00:00Z')}\n${lastLine}\n`
          : `${header}\n${first}\n`,
    );
    writeFileSync(
      badMap,
      bad === 'map'
        ? JSON.stringify({ time: 'timestamp', signals: { tag_0: 'Roller99_w' } })
        : readFileSync(map),
    );
    const r = await cli('demo', '--replay', badCsv, '--columns', badMap, '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`error \\[${code}\\]`));
    expect(existsSync(out)).toBe(false);
  });
});

describe('selfcal demo --replay: the live loop on a historian export', () => {
  const tmp = tempDir('live-demo-replay');
  const csv = join(tmp.dir, 'export.csv');
  const map = join(tmp.dir, 'map.json');
  const out = join(tmp.dir, 'out');
  let exported: { rows: number; values: number };
  let run: { code: number; out: string; err: string };
  let summary: LiveSummary;

  beforeAll(async () => {
    exported = writeExport(csv, map);
    run = await cli(
      'demo',
      '--replay',
      csv,
      '--columns',
      map,
      '--speed',
      '20000',
      '--schedule-hours',
      '0',
      '--window-hours',
      '12',
      '--particles',
      '128',
      '--backend',
      'reference',
      '--threads',
      '1',
      '--json',
      '--out',
      out,
    );
    summary = JSON.parse(run.out) as LiveSummary;
  }, 240_000);

  afterAll(() => {
    process.stderr.write(`[live-demo-replay] exit ${run?.code}\n${run?.err}\n`);
    tmp.remove();
  });

  it('publishes every value of the export once: produced = ingested = published = in SiteWise, none lost', () => {
    const r = summary.readings;
    expect(r.produced).toBe(exported.values);
    expect(r.ingested).toBe(r.produced);
    expect(r.published).toBe(r.produced);
    expect(r.storedInSitewise).toBe(r.produced);
    expect(r.lost).toBe(0);
    expect(Object.values(r.countedLosses).every((v) => v === 0)).toBe(true);
    expect(summary.replay).toMatchObject({ csv, columns: map, rows: exported.rows, values: exported.values });
    expect(summary.replay?.signals).toBe(topology.line.sensors.length);
  });

  it('says plainly that a replay has no truth, in the summary, its text and the report', () => {
    expect(summary.source).toBe('replay');
    expect(summary.truth).toBeNull();
    expect(summary.frictions.length).toBeGreaterThan(0);
    expect(summary.frictions.every((f) => f.truthNms === null)).toBe(true);
    expect(summary.problems.join('\n')).not.toMatch(/drift alarm|found .* degraded/);
    const text = formatLiveSummary(summary);
    expect(text).toMatch(/live loop, replay/);
    expect(text).toMatch(/^truth: no truth \(replay\)/m);
    expect(text).not.toMatch(/truth b/);
    const report = JSON.parse(readFileSync(join(out, 'report-data.json'), 'utf8')) as ReportData;
    expect(report.summary['degraded roller (truth)']).toBe(NO_TRUTH);
    expect(report.frictions.every((f) => f.truth.length === 0)).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toEqual(summary);
  });

  it('recalibrates through Batch on the export, with the --threads it was given', () => {
    expect(summary.calibrations.length).toBeGreaterThan(0);
    expect(summary.calibrations.every((c) => c.jobId !== null)).toBe(true);
    const logDir = join(out, 'logs', 'batch', 'selfcal-calibration', 'default');
    const started = readdirSync(logDir).flatMap((f) =>
      readFileSync(join(logDir, f), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"msg":"job started"'))
        .map((l) => JSON.parse(l) as { jobId: string; threads?: number }),
    );
    expect(started.map((s) => s.jobId).sort()).toEqual(
      expect.arrayContaining(summary.calibrations.map((c) => c.jobId)),
    );
    expect(started.every((s) => s.threads === 1)).toBe(true);
  });
});
