/**
 * `selfcal dashboard` end to end: the SiteWise emulator holds four hours of a line's properties, put
 * through the real SDK under `/selfcal/{lineId}/{signal}` (load cells, virtual sensors and σ, the
 * frictions' posteriors from the job and from the edge, health codes); the dashboard reads them back (BatchGetAssetPropertyValueHistory,
 * paginated) and a real headless Chromium shows them: every chart draws its series (the data attribute
 * and the series' colours on its canvas), the backlog chart, which SiteWise cannot know, says so; no
 * console error, no failed request; a value put later appears on the next poll. SiteWise gone: the page
 * shows the error, the server logs it and keeps serving. Screenshot: artifacts/dashboard.png.
 */
import { BatchPutAssetPropertyValueCommand, type IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';
import type { Browser, Page } from 'playwright-core';
import { startDashboard, type Dashboard } from '../../cli/report/dashboard';
import { memoryLogger } from '../../platform/logger';
import { loadLine } from '../../twin/lines/topology';
import type { IdlerElement } from '../../twin/lines/types';
import { healthProperty, lineProperties, virtualSensorNames } from '../../twin/properties';
import {
  createSitewiseClient,
  startSitewiseEmulator,
  type SitewiseEmulator,
} from '../../simulators/sitewise/index';
import {
  artifactPath,
  describeWithChromium,
  inspectCharts,
  launchChromium,
  watchPage,
} from './browser/chromium';

const LINE = 'reference-web-line';
const topology = loadLine(LINE);
const STEP_S = 300;
const SAMPLES = 48; // four hours

/** What the edge and the job would have written over the last four hours, one value per 5 minutes. */
function seedValues(nowS: number): Map<string, { t: number; v: number }[]> {
  const catalog = lineProperties(topology);
  const times = Array.from({ length: SAMPLES }, (_, i) => Math.floor(nowS) - 60 - (SAMPLES - 1 - i) * STEP_S);
  const series = new Map<string, { t: number; v: number }[]>();
  const put = (name: string, f: (i: number) => number) => {
    if (![...catalog.measured, ...catalog.edge, ...catalog.cloud].includes(name))
      throw new Error(`${name} is not a property of the line`);
    series.set(
      name,
      times.map((t, i) => ({ t, v: f(i) })),
    );
  };
  const virtual = virtualSensorNames(topology);
  for (const s of topology.line.sensors.filter((x) => x.kind === 'tension')) {
    const base = 100 + 10 * topology.spanNames.indexOf(s.at as string);
    const v = virtual[topology.spanNames.indexOf(s.at as string)] as string;
    put(s.signal, (i) => base + Math.sin(i * 1.3));
    put(v, (i) => base + 0.01 * i);
    put(`${v}_std`, () => 0.7);
  }
  topology.idlers.forEach((e, k) => {
    const name = (topology.elements[e] as IdlerElement).name;
    const b = topology.frictionParameterNames[k] as string;
    const worn = name === 'R4';
    const at = (i: number) => (worn ? 1e-4 * Math.exp(i / 6) : 1e-4);
    put(b, at);
    put(`${b}_p05`, (i) => at(i) * 0.8);
    put(`${b}_p95`, (i) => at(i) * 1.25);
    // The edge's posterior of the same b, a little ahead of the cloud's.
    put(`${b}_edge`, (i) => at(i + 1));
    put(`${b}_edge_p05`, (i) => at(i + 1) * 0.7);
    put(`${b}_edge_p95`, (i) => at(i + 1) * 1.4);
    put(healthProperty(name), (i) => (worn ? (i < 30 ? 0 : i < 40 ? 1 : 2) : 0));
  });
  return series;
}

async function putAll(client: IoTSiteWiseClient, series: Map<string, { t: number; v: number }[]>) {
  const entries = [...series].flatMap(([name, points]) =>
    Array.from({ length: Math.ceil(points.length / 10) }, (_, k) => ({
      propertyAlias: `/selfcal/${LINE}/${name}`,
      propertyValues: points.slice(k * 10, k * 10 + 10).map((p) => ({
        value: { doubleValue: p.v },
        timestamp: { timeInSeconds: p.t, offsetInNanos: 0 },
        quality: 'GOOD' as const,
      })),
    })),
  );
  for (let i = 0; i < entries.length; i += 10) {
    const out = await client.send(
      new BatchPutAssetPropertyValueCommand({
        entries: entries.slice(i, i + 10).map((e, j) => ({ entryId: `e${i + j}`, ...e })),
      }),
    );
    expect(out.errorEntries ?? []).toEqual([]);
  }
}

describeWithChromium('dashboard-browser.test.ts')('selfcal dashboard in headless Chromium', () => {
  let browser: Browser;
  let emulator: SitewiseEmulator;
  let client: IoTSiteWiseClient;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    // The SDK's default credential chain, as against the real service; the emulator takes any key.
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'emulator', AWS_SECRET_ACCESS_KEY: 'emulator' });
    delete process.env['AWS_PROFILE'];
    emulator = await startSitewiseEmulator();
    client = createSitewiseClient(emulator.endpoint);
    await putAll(client, seedValues(Date.now() / 1000));
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    client?.destroy();
    await emulator?.close();
    process.env = savedEnv;
  });

  async function openDashboard(
    dashboard: Dashboard,
  ): Promise<{ page: Page; seen: ReturnType<typeof watchPage> }> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const seen = watchPage(page);
    await page.goto(dashboard.url);
    return { page, seen };
  }

  it('shows every chart of the line from SiteWise history, and the next poll brings new values', async () => {
    const logger = memoryLogger('dashboard');
    const dashboard = await startDashboard({ line: LINE, sitewise: emulator.endpoint, pollS: 1, logger });
    try {
      expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const { page, seen } = await openDashboard(dashboard);
      await page.waitForSelector('body[data-status="ok"][data-updates]');
      const charts = await inspectCharts(page);
      const idlers = topology.idlers.map((e) => (topology.elements[e] as IdlerElement).name);
      const loadCells = topology.line.sensors.filter((s) => s.kind === 'tension').map((s) => s.signal);
      expect(charts.map((c) => c.id)).toEqual([
        ...loadCells.map((s) => `tension:${s}`),
        ...topology.frictionParameterNames.map((b) => `friction:${b}`),
        'health',
        'backlog',
      ]);
      const byId = Object.fromEntries(charts.map((c) => [c.id, c]));
      for (const c of charts.filter((x) => x.id !== 'backlog')) {
        expect({ id: c.id, state: c.state }).toEqual({ id: c.id, state: 'drawn' });
        // Every seeded value reached the chart: measured + virtual mean/lo/hi; b mean/p05/p95 of the
        // cloud and of the edge; health.
        const expected = c.id.startsWith('tension:')
          ? 4 * SAMPLES
          : c.id === 'health'
            ? idlers.length * SAMPLES
            : 6 * SAMPLES;
        expect({ id: c.id, points: c.points }).toEqual({ id: c.id, points: expected });
        expect({ id: c.id, drawn: c.seriesPixels > 50 }).toEqual({ id: c.id, drawn: true });
      }
      // The outbox backlog lives at the edge, not in SiteWise: that chart says so instead of drawing.
      expect(byId['backlog']).toMatchObject({ state: 'no-data', points: 0 });
      expect(await page.textContent('[data-chart="backlog"] .no-data')).toMatch(/^no data — .*edge/);
      // R4's posterior left the healthy band (suspect, then degraded): its chart is highlighted.
      expect(
        await page.$$eval('[data-chart].alert', (els) => els.map((e) => e.getAttribute('data-chart'))),
      ).toEqual(['friction:b4']);
      await page.screenshot({ path: artifactPath('dashboard.png'), fullPage: true });

      // A value put now shows on a later poll, without reloading the page.
      const cell = loadCells[0] as string;
      await putAll(client, new Map([[cell, [{ t: Math.floor(Date.now() / 1000), v: 123 }]]]));
      await page.waitForSelector(`[data-chart="tension:${cell}"][data-points="${4 * SAMPLES + 1}"]`);

      expect(seen.problems).toEqual([]);
      expect(seen.requests.every((u) => u.startsWith(dashboard.url))).toBe(true);
      expect(logger.lines().filter((l) => l['level'] === 'error')).toEqual([]);
      await page.close();
    } finally {
      await dashboard.close();
    }
  });

  it('SiteWise unreachable: the page shows the error, the server logs it and keeps serving', async () => {
    const gone = await startSitewiseEmulator();
    const endpoint = gone.endpoint;
    await gone.close();
    const logger = memoryLogger('dashboard');
    const dashboard = await startDashboard({ line: LINE, sitewise: endpoint, pollS: 1, logger });
    try {
      const { page } = await openDashboard(dashboard);
      await page.waitForSelector('body[data-status="error"]');
      expect(await page.textContent('#status')).toMatch(/SITEWISE_READ_FAILED: SiteWise history unreadable/);
      expect(await page.$$('[data-chart]')).toHaveLength(0);
      const errors = logger.lines().filter((l) => l['level'] === 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ msg: 'SiteWise read failed', err: { code: 'SITEWISE_READ_FAILED' } });
      // Still serving: the page again, and data.json with the error.
      const index = await fetch(dashboard.url);
      expect(index.status).toBe(200);
      const data = await fetch(`${dashboard.url}data.json`);
      expect(data.status).toBe(502);
      expect(await data.json()).toMatchObject({ error: { code: 'SITEWISE_READ_FAILED' } });
      await page.close();
    } finally {
      await dashboard.close();
    }
  });
});
