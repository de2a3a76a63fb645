/**
 * The HTML shell the report and the dashboard share: uPlot's JS and CSS and the drawing code
 * (cli/report/charts.js) inlined, read from disk at generation time, so a page needs no network and
 * opens from file://. Only the last script differs: the report draws embedded data, the dashboard polls.
 */
import { readFileSync } from 'node:fs';

/** Text safe inside a <script> element: no `</script` (nor `<!--`) can end or confuse it. */
export function scriptText(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/**
 * `value` as JSON that can sit inside <script type="application/json">: `<`, `>` and `&` escaped as
 * \u003c… (still the same JSON), so no string in the data can close the element.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

interface Assets {
  uplotJs: string;
  uplotCss: string;
  chartsJs: string;
}

let assets: Assets | undefined;

/** uPlot (from node_modules, via require.resolve) and charts.js, read once. */
export function pageAssets(): Assets {
  assets ??= {
    uplotJs: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    uplotCss: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    chartsJs: readFileSync(require.resolve('./charts.js'), 'utf8'),
  };
  return assets;
}

const PAGE_CSS = `
body { font-family: system-ui, sans-serif; margin: 0; background: #fff; color: #222; }
main { max-width: 1100px; margin: 0 auto; padding: 12px 20px 40px; }
h1 { font-size: 1.4em; margin: 8px 0 2px; }
h2 { font-size: 1.15em; margin: 24px 0 6px; border-bottom: 1px solid #ddd; }
h3 { font-size: 0.95em; margin: 12px 0 4px; font-weight: 600; }
.report-meta, .status { color: #555; margin: 0 0 8px; font-size: 0.9em; }
.status.error { color: #fff; background: #b00020; padding: 6px 10px; border-radius: 4px; }
.chart { margin-bottom: 10px; }
.chart.alert h3 { color: #b00020; }
.chart.alert { border-left: 4px solid #b00020; padding-left: 8px; }
.no-data { color: #888; font-style: italic; border: 1px dashed #ccc; padding: 24px; text-align: center; margin: 0; }
table.summary { border-collapse: collapse; font-size: 0.9em; }
table.summary th, table.summary td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; }
table.summary th { background: #f5f5f5; font-weight: 600; }
`;

/** A complete page: the inlined assets, `bodyHtml` (trusted markup), then `bootScript` (trusted JS). */
export function pageHtml(options: { title: string; bodyHtml: string; bootScript: string }): string {
  const a = pageAssets();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)}</title>
<style>${a.uplotCss.replace(/<\//g, '<\\/')}</style>
<style>${PAGE_CSS}</style>
</head>
<body>
<main>
${options.bodyHtml}
<div id="charts"></div>
</main>
<script>${scriptText(a.uplotJs)}</script>
<script>${scriptText(a.chartsJs)}</script>
<script>${scriptText(options.bootScript)}</script>
</body>
</html>
`;
}
