/**
 * Issue 18: `selfcal demo` runs the real closed loop. Two simulated days at full speed on the embedded
 * stack (the edge components as child processes from their bundles, the Batch, SiteWise and shadow
 * emulators): the edge flags the degrading roller, the drift alarm starts a recalibration through the
 * Batch emulator, its signed manifest is applied at the edge, the edge's virtual sensors move to the
 * recalibrated twin's, and every reading produced reaches SiteWise.
 */
import { join, resolve } from 'node:path';
import { runLiveDemo, type LiveRun } from '../../cli/live-demo/live-demo';
import { buildSummary, propertyHistory, type LiveSummary } from '../../cli/live-demo/summary';
import { DEFAULT_DEMO } from '../../cli/demo';
import { loadLine } from '../../twin/lines/topology';
import type { ReportData } from '../../cli/report/report-data';
import { tempDir } from '../unit/edge-components/ingest/support';

const REPO = resolve(__dirname, '../..');
const topology = loadLine();

describe('selfcal demo: the live loop end to end', () => {
  const tmp = tempDir('live-demo');
  const events: string[] = [];
  let run: LiveRun | undefined;
  let summary: LiveSummary;
  let report: ReportData;

  beforeAll(async () => {
    run = await runLiveDemo({
      ...DEFAULT_DEMO,
      days: 2,
      repo: REPO,
      outDir: join(tmp.dir, 'out'),
      topology,
      lineRef: topology.line.id,
      particles: 256,
      backend: 'reference',
      // Commissioning at 16 h (before the onset at 16 h of wear), then only alarms and the final one.
      scheduleHours: 16,
      windowHours: 16,
      onAlarm: true,
      onEvent: (text) => events.push(text),
    });
    ({ summary, report } = await buildSummary(run, topology, run.stack.sitewiseClient));
  }, 280_000);

  afterAll(async () => {
    await run?.stack.close();
    tmp.remove();
    process.stderr.write(`[live-demo] ${events.join('\n[live-demo] ')}\n`);
  });

  it('flags the degraded roller at the edge and recalibrates through Batch on the alarm', () => {
    expect(summary.problems).toEqual([]);
    const raised = run?.alarms.find(
      (a) => a.state === 'raised' && a.tsS > (run?.scenario.startS ?? 0) + 16 * 3600,
    );
    expect(raised).toBeDefined();
    const named = raised?.rollers.flatMap((r) => [r.roller, ...r.indistinguishableFrom]) ?? [];
    expect(named).toContain('R4');
    expect(summary.found.edgeHealth.map((h) => h.roller)).toContain('R4');
    const onAlarm = run?.calibrations.filter((c) => c.reason === 'alarm') ?? [];
    expect(onAlarm.length).toBeGreaterThan(0);
    for (const c of run?.calibrations ?? []) {
      expect(c.status).toBe('SUCCEEDED');
      expect(c.jobId).toMatch(/.+/);
    }
    expect(summary.found.cloud.map((f) => f.roller)).toContain('R4');
  });

  it('applies every signed manifest at the edge', () => {
    expect(summary.manifests.applied).toBe(run?.calibrations.length);
    expect(summary.manifests.refused).toBe(0);
    const versions = run?.calibrations.map((c) => c.manifest.version ?? 0) ?? [];
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
  });

  it("moves the edge's virtual tensions towards the recalibrated twin's once a manifest is applied", async () => {
    const client = run?.stack.sitewiseClient;
    const r = run as LiveRun;
    const alarmCalibration = r.calibrations.find(
      (c) => c.reason === 'alarm',
    ) as LiveRun['calibrations'][number];
    const toS = alarmCalibration.window.toS;
    let before = 0;
    let after = 0;
    for (const span of topology.spanNames) {
      const name = `${span}_Tension_N_virtual`;
      const series = await propertyHistory(client!, r.lineId, name, toS - 3 * 3600, toS + 3 * 3600);
      // At the window's end the job's posterior (the cloud's value of the same property) is stored.
      const cloud = series.find((p) => Math.abs(p.t - toS) < 1)?.v as number;
      const edgeBefore = [...series].reverse().find((p) => p.t < toS - 1)?.v as number;
      const edgeAfter = series.find((p) => p.t > toS + 1)?.v as number;
      expect([cloud, edgeBefore, edgeAfter].every(Number.isFinite)).toBe(true);
      before += Math.abs(edgeBefore - cloud);
      after += Math.abs(edgeAfter - cloud);
    }
    process.stderr.write(
      `[live-demo] Σ|edge − cloud| virtual tensions: before ${before.toFixed(2)} N, after ${after.toFixed(2)} N\n`,
    );
    expect(after).toBeLessThan(before);
  });

  it('loses no reading: produced = published = in SiteWise, no counted losses', () => {
    const r = summary.readings;
    expect(r.produced).toBeGreaterThan(0);
    expect(r.ingested).toBe(r.produced);
    expect(r.published).toBe(r.produced);
    expect(r.storedInSitewise).toBe(r.produced);
    expect(r.lost).toBe(0);
    expect(Object.values(r.countedLosses).every((v) => v === 0)).toBe(true);
  });

  it('fills the report data from the run', () => {
    expect(report.lineId).toBe(topology.line.id);
    expect(report.tensions.length).toBeGreaterThan(0);
    for (const t of report.tensions) {
      expect(t.measured.length).toBeGreaterThan(100);
      expect(t.virtual.length).toBeGreaterThan(100);
    }
    const b4 = report.frictions.find((f) => f.parameter === 'b4');
    expect(b4?.cloud.length).toBe(run?.calibrations.length);
    expect(b4?.truth.length).toBeGreaterThan(100);
    expect(report.health.find((h) => h.roller === 'R4')?.points.some((p) => p.v === 2)).toBe(true);
    expect(report.backlog.length).toBeGreaterThan(0);
    expect(report.summary['readings lost']).toBe(0);
  });
});
