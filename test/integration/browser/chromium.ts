/**
 * A real headless Chromium for the browser tests (playwright-core drives the system's Chromium; nothing
 * is downloaded). `/usr/bin/chromium` or `SELFCAL_CHROMIUM`; where neither exists the tests skip, saying
 * why, unless `SELFCAL_BROWSER_REQUIRED=1` (CI, after installing Chromium), where they fail.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env['SELFCAL_CHROMIUM'] ?? '/usr/bin/chromium';
export const BROWSER_REQUIRED = process.env['SELFCAL_BROWSER_REQUIRED'] === '1';

/** Why the browser tests cannot run here, or undefined when they can. */
export const chromiumUnavailable: string | undefined = existsSync(CHROMIUM_PATH)
  ? undefined
  : `no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set SELFCAL_CHROMIUM)`;

/** `describe`, or `describe.skip` with the reason on stderr; with SELFCAL_BROWSER_REQUIRED=1 never skipped. */
export function describeWithChromium(file: string): jest.Describe {
  if (chromiumUnavailable === undefined || BROWSER_REQUIRED) return describe;
  console.warn(`${file}: the browser tests are SKIPPED: ${chromiumUnavailable}`);
  return describe.skip;
}

export async function launchChromium(): Promise<Browser> {
  if (chromiumUnavailable !== undefined)
    throw new Error(`SELFCAL_BROWSER_REQUIRED=1 but ${chromiumUnavailable}`);
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless=new',
      ...(root ? ['--no-sandbox'] : []),
      '--disable-gpu',
      '--force-device-scale-factor=1',
    ],
  });
}

/** Everything a page did wrong: console errors, uncaught exceptions, failed or refused requests. */
export interface PageProblems {
  problems: string[];
  requests: string[];
}

export function watchPage(page: Page): PageProblems {
  const seen: PageProblems = { problems: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') seen.problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => seen.problems.push(`page error: ${e.message}`));
  page.on('request', (r) => seen.requests.push(r.url()));
  page.on('requestfailed', (r) =>
    seen.problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`),
  );
  page.on('response', (r) => {
    if (r.status() >= 400) seen.problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return seen;
}

/** What one chart container says it drew, and what its canvas really shows. */
export interface ChartCheck {
  id: string;
  state: string | null;
  points: number;
  /** Canvas pixels in one of the chart's series colours (the axes and grid are grey: never counted). */
  seriesPixels: number;
  canvases: number;
}

/** The part of a canvas element the check reads (the tests compile without the DOM's types). */
interface CanvasLike {
  width: number;
  height: number;
  getContext(
    kind: '2d',
  ): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
}

/**
 * Every chart on the page: its data attributes, and the pixels of its canvas that carry a series colour
 * (within ±40 per channel, opaque). A chart that claims points but drew none has seriesPixels 0.
 */
export async function inspectCharts(page: Page): Promise<ChartCheck[]> {
  return page.$$eval('[data-chart]', (boxes) =>
    boxes.map((box) => {
      const colors = (JSON.parse(box.getAttribute('data-colors') ?? '[]') as string[]).map((hex) => {
        const n = parseInt(hex.slice(1), 16);
        return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
      });
      const canvases = Array.from(box.querySelectorAll('canvas')) as unknown as CanvasLike[];
      let seriesPixels = 0;
      for (const canvas of canvases) {
        const ctx = canvas.getContext('2d');
        if (!ctx || canvas.width === 0 || canvas.height === 0) continue;
        const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < px.length; i += 4) {
          if ((px[i + 3] as number) < 200) continue;
          const [r, g, b] = [px[i] as number, px[i + 1] as number, px[i + 2] as number];
          if (
            colors.some(
              (c) => Math.abs(c[0]! - r) <= 40 && Math.abs(c[1]! - g) <= 40 && Math.abs(c[2]! - b) <= 40,
            )
          )
            seriesPixels += 1;
        }
      }
      return {
        id: box.getAttribute('data-chart') ?? '',
        state: box.getAttribute('data-state'),
        points: Number(box.getAttribute('data-points')),
        seriesPixels,
        canvases: canvases.length,
      };
    }),
  );
}

/** `artifacts/<name>` (artifacts/ is gitignored), the folder made if needed. */
export function artifactPath(name: string): string {
  const dir = join(__dirname, '..', '..', '..', 'artifacts');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
