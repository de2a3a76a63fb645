/**
 * The demo's report: one self-contained HTML file (uPlot and the drawing code inlined, the data embedded
 * as JSON) that opens from disk. The charts are drawn in the browser by cli/report/charts.js, the same
 * code the live dashboard runs.
 */
import { jsonForScript, pageHtml } from './page';
import type { ReportData } from './report-data';

const BOOT = `
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  window.SelfcalCharts.render(document.getElementById('charts'), data, {
    notes: { backlog: 'the run recorded no outbox backlog' },
  });
  document.body.setAttribute('data-rendered', 'true');
})();
`;

export function renderReport(data: ReportData): string {
  return pageHtml({
    title: data.title,
    bodyHtml: `<script type="application/json" id="report-data">${jsonForScript(data)}</script>`,
    bootScript: BOOT,
  });
}
