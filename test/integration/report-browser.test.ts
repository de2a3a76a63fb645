/**
 * The demo's report (cli/report/render-report.ts) in a real headless Chromium, opened from file://: it
 * loads nothing from anywhere else, logs no error, and every chart draws what it says it drew (its
 * canvas carries its series' colours), except the one whose series are all empty, which says "no data".
 * Screenshot: artifacts/report.png.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { renderReport } from '../../cli/report/render-report';
import {
  artifactPath,
  describeWithChromium,
  inspectCharts,
  launchChromium,
  watchPage,
} from './browser/chromium';
import { syntheticReportData } from './browser/synthetic-report';

describeWithChromium('report-browser.test.ts')('the report in headless Chromium (file://)', () => {
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'selfcal-report-'));
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(html: string, name: string) {
    const file = join(dir, name);
    writeFileSync(file, html);
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const seen = watchPage(page);
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('body[data-rendered="true"]');
    return { page, seen, url: pathToFileURL(file).href };
  }

  it('draws every chart from the embedded data, with nothing fetched and no error', async () => {
    const data = syntheticReportData();
    const { page, seen, url } = await open(renderReport(data), 'report.html');
    const charts = await inspectCharts(page);
    expect(charts.map((c) => c.id)).toEqual([
      'tension:S5_Tension_N',
      'tension:S8_Tension_N',
      'friction:b3',
      'friction:b4',
      'friction:b5',
      'health',
      'backlog',
    ]);
    // Points handed to uPlot: measured + mean/lo/hi of the virtual sensor; cloud, edge (3 each) + truth.
    const byId = Object.fromEntries(charts.map((c) => [c.id, c]));
    expect(byId['tension:S5_Tension_N']?.points).toBe(144 * 4);
    expect(byId['friction:b4']?.points).toBe(12 * 3 + 144 * 3 + 144);
    expect(byId['health']?.points).toBe(3 * 24);
    for (const c of charts) {
      expect({ id: c.id, state: c.state }).toEqual({ id: c.id, state: 'drawn' });
      expect(c.points).toBeGreaterThan(0);
      // Really drawn: the canvas carries the series' colours, not only the axes.
      expect({ id: c.id, drawn: c.seriesPixels > 50 }).toEqual({ id: c.id, drawn: true });
    }
    // R4's bearing left the healthy band: its chart is highlighted, the healthy ones are not.
    const alerts = await page.$$eval('[data-chart].alert', (els) =>
      els.map((e) => e.getAttribute('data-chart')),
    );
    expect(alerts).toEqual(['friction:b4']);
    // The data's `</script>` stayed data: the title and the summary show it as text.
    expect(await page.title()).toBe(data.title);
    expect(await page.textContent('table.summary')).toContain('a </script> in the data stays data');
    expect(seen.problems).toEqual([]);
    expect(seen.requests).toEqual([url]);
    await page.screenshot({ path: artifactPath('report.png'), fullPage: true });
    await page.close();
  });

  it('says "no data" for a chart whose series are all empty', async () => {
    const data = { ...syntheticReportData(), backlog: [], health: [] };
    data.frictions = data.frictions.map((f) =>
      f.parameter === 'b5' ? { ...f, cloud: [], edge: [], truth: [] } : f,
    );
    const { page, seen } = await open(renderReport(data), 'empty.html');
    const byId = Object.fromEntries((await inspectCharts(page)).map((c) => [c.id, c]));
    for (const id of ['backlog', 'health', 'friction:b5']) {
      expect(byId[id]).toMatchObject({ state: 'no-data', points: 0, canvases: 0 });
      expect(await page.textContent(`[data-chart="${id}"] .no-data`)).toMatch(/^no data/);
    }
    expect(byId['friction:b4']).toMatchObject({ state: 'drawn' });
    expect(byId['friction:b4']?.seriesPixels).toBeGreaterThan(50);
    expect(seen.problems).toEqual([]);
    await page.close();
  });
});
