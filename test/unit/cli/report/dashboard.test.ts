/**
 * The dashboard's parts without a browser: its options (typed errors, `selfcal dashboard` exits 2), the
 * properties it reads (spelled by twin/properties), and its SiteWise reader against the emulator through
 * the real SDK: 16 entries per call, pages followed to the end, unknown properties read as empty.
 */
import { BatchPutAssetPropertyValueCommand, type IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';
import { runCli } from '../../../../cli/main';
import { startDashboard } from '../../../../cli/report/dashboard';
import { parseDuration } from '../../../../cli/report/dashboard-command';
import {
  dashboardProperties,
  propertyNames,
  readHistory,
  thin,
} from '../../../../cli/report/sitewise-history';
import { loadLine } from '../../../../twin/lines/topology';
import { lineProperties } from '../../../../twin/properties';
import {
  createSitewiseClient,
  startSitewiseEmulator,
  type SitewiseEmulator,
} from '../../../../simulators/sitewise/index';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), progress: false });
  return { code, out, err };
}

describe('selfcal dashboard: bad options', () => {
  it.each([
    [['dashboard'], /required option '--line <id\|path>' not specified/],
    [['dashboard', '--line', 'reference-web-line', '--port', '70000'], /70000 is outside \[0, 65535\]/],
    [['dashboard', '--line', 'reference-web-line', '--range', '7x'], /'7x' is not a duration/],
    [['dashboard', '--line', 'reference-web-line', '--poll', '0'], /'0' is not an integer in \[1, 3600\]/],
    [['dashboard', '--line', 'reference-web-line', '--region', 'Mars'], /'Mars' is not an AWS region/],
    [
      ['dashboard', '--line', 'reference-web-line', '--sitewise', 'ftp://x'],
      /\[CLI_ARGUMENT_INVALID\]: --sitewise 'ftp:\/\/x' is not an http/,
    ],
    [
      ['dashboard', '--line', 'reference-web-line', '--alias-template', '/a/{lineId}'],
      /\[CLI_ARGUMENT_INVALID\]: --alias-template '\/a\/\{lineId\}' has no \{signal\}/,
    ],
    [['dashboard', '--line', 'no-such-line'], /\[LINE_UNREADABLE\]: .*unknown line 'no-such-line'/],
  ])('%j exits 2 naming the problem', async (args, message) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('startDashboard throws typed errors', async () => {
    await expect(startDashboard({ line: 'reference-web-line', rangeS: 10 })).rejects.toMatchObject({
      code: 'CLI_ARGUMENT_INVALID',
      message: expect.stringMatching(/--range/),
    });
    await expect(startDashboard({ line: 'reference-web-line', port: 1.5 })).rejects.toMatchObject({
      code: 'CLI_ARGUMENT_INVALID',
    });
  });

  it('parses durations', () => {
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration('12h')).toBe(43_200);
    expect(parseDuration('7d')).toBe(604_800);
    expect(parseDuration('1.5h')).toBe(5400);
  });
});

describe('the properties the dashboard reads', () => {
  it.each(['reference-web-line', 'draw-web-line'])(
    '%s: load cells with their virtual sensor, b bands (cloud and edge), health',
    (id) => {
      const t = loadLine(id);
      const p = dashboardProperties(t);
      const catalog = lineProperties(t);
      expect(p.tensions.map((x) => x.signal)).toEqual(
        t.line.sensors.filter((s) => s.kind === 'tension').map((s) => s.signal),
      );
      expect(p.tensions[0]).toEqual({
        signal: t.line.sensors.find((s) => s.kind === 'tension')?.signal,
        virtualName: `${t.line.sensors.find((s) => s.kind === 'tension')?.at}_Tension_N_virtual`,
        std: `${t.line.sensors.find((s) => s.kind === 'tension')?.at}_Tension_N_virtual_std`,
      });
      expect(p.frictions.map((f) => f.parameter)).toEqual(t.frictionParameterNames);
      // Each b's band from the cloud (`b4`, `_p05`, `_p95`) and from the edge (`b4_edge`, `_p05`, `_p95`).
      const b = t.frictionParameterNames[0] as string;
      expect(p.frictions[0]).toMatchObject({
        p05: `${b}_p05`,
        p95: `${b}_p95`,
        edge: { mean: `${b}_edge`, p05: `${b}_edge_p05`, p95: `${b}_edge_p95` },
      });
      expect(p.health.map((h) => h.property)).toEqual(
        catalog.edge.filter((n) => /^Roller\d+_health$/.test(n)),
      );
      for (const n of propertyNames(p))
        expect([...catalog.measured, ...catalog.edge, ...catalog.cloud]).toContain(n);
    },
  );

  it('thins a long series evenly and keeps its last point', () => {
    const pts = Array.from({ length: 1001 }, (_, i) => i);
    const out = thin(pts, 100);
    expect(out.length).toBeLessThanOrEqual(102);
    expect(out[0]).toBe(0);
    expect(out[out.length - 1]).toBe(1000);
    expect(thin([1, 2], 100)).toEqual([1, 2]);
  });
});

describe('readHistory against the SiteWise emulator', () => {
  let emulator: SitewiseEmulator;
  let client: IoTSiteWiseClient;
  const nowS = Math.floor(Date.now() / 1000);
  const names = Array.from({ length: 20 }, (_, i) => `p${i}`);

  beforeAll(async () => {
    emulator = await startSitewiseEmulator();
    client = createSitewiseClient(emulator.endpoint);
    // 20 properties (two calls of 16 + 4), 25 values each, one BAD value that must not be read.
    for (const name of names) {
      for (let k = 0; k < 25; k += 10) {
        await client.send(
          new BatchPutAssetPropertyValueCommand({
            entries: [
              {
                entryId: 'e',
                propertyAlias: `/t/${name}`,
                propertyValues: Array.from({ length: Math.min(10, 25 - k) }, (_, j) => ({
                  value: { doubleValue: k + j },
                  timestamp: { timeInSeconds: nowS - 3600 + (k + j) * 60, offsetInNanos: 0 },
                  quality: name === 'p0' && k + j === 3 ? ('BAD' as const) : ('GOOD' as const),
                })),
              },
            ],
          }),
        );
      }
    }
  });
  afterAll(async () => {
    client?.destroy();
    await emulator?.close();
  });

  it('reads every value in 16-entry calls, following the pages, unknown aliases as empty', async () => {
    const read = await readHistory(client, [...names, 'missing'], (n) => `/t/${n}`, {
      fromS: nowS - 7200,
      toS: nowS,
      maxResults: 7,
    });
    for (const n of names) {
      const want = Array.from({ length: 25 }, (_, i) => i).filter((i) => n !== 'p0' || i !== 3);
      expect({ n, v: read.series.get(n)?.map((p) => p.v) }).toEqual({ n, v: want });
    }
    expect(read.series.get('missing')).toEqual([]);
    expect(read.unknown).toEqual(['missing']);
    // 2 chunks (16 + 5 entries), each several pages of 7 points.
    expect(read.calls).toBeGreaterThan(2);
  });

  it('keeps to the range', async () => {
    const read = await readHistory(client, ['p1'], (n) => `/t/${n}`, {
      fromS: nowS - 3600 + 600,
      toS: nowS - 3600 + 1200,
    });
    expect(read.series.get('p1')?.map((p) => p.v)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  });

  it('an unreachable SiteWise is SITEWISE_READ_FAILED', async () => {
    const gone = await startSitewiseEmulator();
    const c = createSitewiseClient(gone.endpoint, { maxAttempts: 1 });
    await gone.close();
    await expect(readHistory(c, ['p1'], (n) => n, { fromS: 1, toS: 2 })).rejects.toMatchObject({
      code: 'SITEWISE_READ_FAILED',
    });
    c.destroy();
  });
});
