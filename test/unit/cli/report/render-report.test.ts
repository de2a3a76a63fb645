/**
 * The report's HTML as text: self-contained (uPlot's JS and CSS and the drawing code inlined, no URL
 * to load), and the embedded data is the data, whatever strings it holds. The browser tests
 * (test/integration/report-browser.test.ts) check what it draws.
 */
import { readFileSync } from 'node:fs';
import { renderReport } from '../../../../cli/report/render-report';
import { jsonForScript, scriptText } from '../../../../cli/report/page';
import type { ReportData } from '../../../../cli/report/report-data';

const hostile: ReportData = {
  title: 'T </script><script>alert(1)</script> <!-- & "q"',
  lineId: 'line-</SCRIPT>',
  generatedAt: '2026-06-01T00:00:00.000Z',
  tensions: [
    {
      signal: 'S5_Tension_N',
      virtualName: 'S5_Tension_N_virtual',
      measured: [{ t: 1, v: 2 }],
      virtual: [{ t: 1, mean: 2, lo: 1, hi: 3 }],
    },
  ],
  frictions: [],
  health: [],
  backlog: [],
  summary: { 'odd \u2028 key': '</script >', n: 3 },
};

function embedded(html: string): unknown {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  if (!m) throw new Error('no embedded data');
  return JSON.parse(m[1] as string);
}

describe('renderReport', () => {
  it('embeds the data so that it parses back to itself, strings with </script> included', () => {
    const html = renderReport(hostile);
    expect(embedded(html)).toEqual(hostile);
    // The only </script> closings are the page's own four scripts.
    expect(html.match(/<\/script/gi)).toHaveLength(4);
  });

  it('inlines uPlot and the drawing code, and references nothing to load', () => {
    const html = renderReport(hostile);
    const uplot = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
    expect(html).toContain(scriptText(uplot).slice(0, 2000));
    expect(html).toContain('window.SelfcalCharts');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
    // No URL at all but uPlot's licence comment (the browser test checks that nothing is requested).
    expect(html).not.toMatch(/https?:\/\/(?!github\.com\/leeoniya\/uPlot\b)/);
  });

  it('escapes what closes a script or a comment, and leaves the JSON equal', () => {
    expect(scriptText('a</script>b</SCRIPT c<!--d')).toBe('a<\\/script>b<\\/SCRIPT c<\\!--d');
    const text = jsonForScript({ s: '</script><!-- & \u2028' });
    expect(text).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(text)).toEqual({ s: '</script><!-- & \u2028' });
  });
});
