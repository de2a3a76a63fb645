/** The shipped descriptions as shipped: what a deployment hands on under another line id. */
import drawJson from '../../../../twin/lines/draw-web-line.json';
import {
  DRAW_LINE_ID,
  SHIPPED_LINE_IDS,
  compileLineDescription,
  loadLine,
  shippedLineDescription,
} from '../../../../twin/lines/topology';

describe('shippedLineDescription', () => {
  it('is the JSON as shipped, which compiles to the shipped line', () => {
    expect(shippedLineDescription(DRAW_LINE_ID)).toEqual(drawJson);
    for (const id of SHIPPED_LINE_IDS)
      expect(compileLineDescription(shippedLineDescription(id)).spanNames).toEqual(loadLine(id).spanNames);
  });

  it('is a copy: changing it changes no shipped line', () => {
    const d = shippedLineDescription(DRAW_LINE_ID) as { id: string };
    d.id = 'changed';
    expect(loadLine(DRAW_LINE_ID).line.id).toBe(DRAW_LINE_ID);
    expect((shippedLineDescription(DRAW_LINE_ID) as { id: string }).id).toBe(DRAW_LINE_ID);
  });

  it('refuses an id that is not shipped (LINE_UNREADABLE)', () => {
    expect(() => shippedLineDescription('my-line.json')).toThrow(
      expect.objectContaining({ code: 'LINE_UNREADABLE' }),
    );
  });
});
