/**
 * platform/line-file: a line by shipped id or by description file, with the error codes the CLI, the
 * components' `lines` setting and the calibration job report (LINE_UNREADABLE, LINE_INVALID).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { isLineFilePath, loadLineFrom } from '../../../platform/line-file';
import { DRAW_LINE_ID, REFERENCE_LINE_ID, loadLine } from '../../../twin/lines/topology';

const shippedFile = (id: string) => join(__dirname, `../../../twin/lines/${id}.json`);
const dir = mkdtempSync(join(tmpdir(), 'selfcal-line-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of the draw line under another id, written to `name` in the temporary folder. */
function writeLine(name: string, edit: (d: Record<string, unknown>) => void = () => undefined): string {
  const d = JSON.parse(readFileSync(shippedFile(DRAW_LINE_ID), 'utf8')) as Record<string, unknown>;
  d.id = 'plant-7-line';
  edit(d);
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(d));
  return file;
}

describe('loadLineFrom', () => {
  it('loads a shipped line by id, the reference line by default', () => {
    expect(loadLineFrom(DRAW_LINE_ID).line).toEqual(loadLine(DRAW_LINE_ID).line);
    expect(loadLineFrom().line.id).toBe(REFERENCE_LINE_ID);
  });

  it('loads a description file by path, absolute or relative', () => {
    const file = writeLine('plant-7.json');
    const t = loadLineFrom(file);
    expect(t.line.id).toBe('plant-7-line');
    expect(t.elements.map((e) => e.name)).toEqual(loadLine(DRAW_LINE_ID).elements.map((e) => e.name));
    expect(loadLineFrom(relative(process.cwd(), file)).line.id).toBe('plant-7-line');
  });

  it('rejects an unknown id that is not a path: LINE_UNREADABLE, naming the shipped lines', () => {
    expect(() => loadLineFrom('no-such-line')).toThrow(
      expect.objectContaining({
        code: 'LINE_UNREADABLE',
        message: expect.stringMatching(
          /unknown line 'no-such-line' \(shipped: reference-web-line, draw-web-line; or give a path/,
        ),
      }),
    );
  });

  it('rejects a file it cannot read: LINE_UNREADABLE, naming the file', () => {
    const missing = join(dir, 'missing.json');
    expect(() => loadLineFrom(missing)).toThrow(
      expect.objectContaining({
        code: 'LINE_UNREADABLE',
        message: expect.stringContaining(`cannot read '${missing}'`),
      }),
    );
  });

  it('rejects an invalid description: LINE_INVALID with its JSON path', () => {
    const file = writeLine('bad.json', (d) => ((d.elements as Record<string, unknown>[])[3]!.radiusM = -1));
    expect(() => loadLineFrom(file)).toThrow(
      expect.objectContaining({ code: 'LINE_INVALID', path: '/elements/3/radiusM' }),
    );
    const notJson = join(dir, 'not-json.json');
    writeFileSync(notJson, '{"schemaVersion": 1,');
    expect(() => loadLineFrom(notJson)).toThrow(expect.objectContaining({ code: 'LINE_INVALID' }));
  });
});

describe('isLineFilePath', () => {
  it.each([
    ['reference-web-line', false],
    ['lines/plant-7', true],
    ['plant-7.json', true],
    ['/etc/selfcal/line.json', true],
  ])('%s → %s', (s, expected) => expect(isLineFilePath(s)).toBe(expected));
});
