import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../cli/main';
import {
  SITEWISE_DATASOURCE_TYPE,
  grafanaDashboard,
  type GrafanaDashboard,
} from '../../../cloud/dashboards/grafana-dashboard';
import { DRAW_LINE_ID, REFERENCE_LINE_ID, loadLine } from '../../../twin/lines/topology';
import { HEALTH_CODES } from '../../../twin/properties';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), progress: false });
  return { code, out, err };
}

describe('selfcal grafana (command)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'selfcal-grafana-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the dashboard JSON to stdout, with a data source variable and the health value mappings', async () => {
    const r = await cli('grafana', '--line', REFERENCE_LINE_ID);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const dashboard = JSON.parse(r.out) as GrafanaDashboard;
    expect(dashboard).toEqual(grafanaDashboard(loadLine(REFERENCE_LINE_ID)));
    expect(dashboard.templating.list).toEqual([
      expect.objectContaining({ type: 'datasource', query: SITEWISE_DATASOURCE_TYPE, name: 'datasource' }),
    ]);
    const health = dashboard.panels.find((p) => p.title === 'Roller health');
    const mappings = health?.fieldConfig?.defaults['mappings'] as {
      options: Record<string, { text: string }>;
    }[];
    expect(
      Object.fromEntries(Object.entries(mappings[0]?.options ?? {}).map(([k, v]) => [v.text, Number(k)])),
    ).toEqual(HEALTH_CODES);
  });

  it('writes --out FILE, honouring --alias-template and --datasource-uid', async () => {
    const out = join(dir, 'dash.json');
    const r = await cli(
      'grafana',
      '--line',
      DRAW_LINE_ID,
      '--out',
      out,
      '--alias-template',
      'x/{lineId}/{signal}',
      '--datasource-uid',
      'abc',
    );
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    const dashboard = JSON.parse(readFileSync(out, 'utf8')) as GrafanaDashboard;
    expect(dashboard).toEqual(
      grafanaDashboard(loadLine(DRAW_LINE_ID), {
        aliasTemplate: 'x/{lineId}/{signal}',
        datasourceUid: 'abc',
      }),
    );
  });

  it.each([
    [['grafana'], /required option '--line <id\|path>' not specified/],
    [['grafana', '--line', 'no-such-line'], /LINE_UNREADABLE.*no-such-line/],
    [
      ['grafana', '--line', REFERENCE_LINE_ID, '--alias-template', '/x/{lineId}'],
      /--alias-template.*\{signal\}/,
    ],
    [['grafana', '--line', REFERENCE_LINE_ID, '--out', '/nonexistent-dir/d.json'], /--out \/nonexistent-dir/],
  ])('%j exits 2 naming the option or file', async (args, message) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });
});
