/**
 * Where the job finds a fleet line's description: a shipped id, or `store:<key>` in its object store
 * (how the CDK app hands it the fleet's own descriptions), read from a real folder store.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FolderObjectStore } from '../../../../cloud/calibration-job/io/folder-store';
import { loadFleetTopology } from '../../../../cloud/calibration-job/job';
import { STORE_LINE_PREFIX } from '../../../../cloud/calibration-job/job-config';
import { JobError } from '../../../../cloud/calibration-job/job-errors';
import { JobIoError } from '../../../../cloud/calibration-job/io/errors';
import { DRAW_LINE_ID } from '../../../../twin/lines/topology';

describe('loadFleetTopology', () => {
  const dir = mkdtempSync(join(tmpdir(), 'selfcal-line-source-'));
  const store = new FolderObjectStore(dir);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a store: description from the object store', async () => {
    // Prepare: the draw line's description under another id, as a deployment would upload it
    const description = JSON.parse(
      readFileSync(join(__dirname, '../../../../twin/lines/draw-web-line.json'), 'utf8'),
    ) as { id: string };
    await store.put('lines/plant-7.json', JSON.stringify({ ...description, id: 'plant-7' }));

    // Act
    const topology = await loadFleetTopology(
      { lineId: 'plant-7', thingName: 'gw-7', line: `${STORE_LINE_PREFIX}lines/plant-7.json` },
      store,
    );

    // Assess
    expect(topology.line.id).toBe('plant-7');
    expect(topology.spanNames.length).toBeGreaterThan(0);
  });

  it('still reads shipped ids', async () => {
    const topology = await loadFleetTopology({ lineId: 'a', thingName: 'gw', line: DRAW_LINE_ID }, store);
    expect(topology.line.id).toBe(DRAW_LINE_ID);
  });

  it.each([
    ['a missing object', 'lines/none.json', undefined, /line x: .*no object 'lines\/none.json'/],
    ['an invalid description', 'lines/bad.json', '{"id": "bad"}', /line x: line description/],
  ])('refuses %s with JOB_INPUT_INVALID (exit 2, no retry)', async (_what, key, body, message) => {
    if (body !== undefined) await store.put(key, body);
    const loading = loadFleetTopology(
      { lineId: 'x', thingName: 'gw', line: `${STORE_LINE_PREFIX}${key}` },
      store,
    );
    await expect(loading).rejects.toThrow(JobError);
    await expect(loading).rejects.toMatchObject({ code: 'JOB_INPUT_INVALID', message });
  });

  it('lets an unusable key fail as the store fails (not as a bad description)', async () => {
    const loading = loadFleetTopology(
      { lineId: 'x', thingName: 'gw', line: `${STORE_LINE_PREFIX}../outside.json` },
      store,
    );
    await expect(loading).rejects.toThrow(JobIoError);
    await expect(loading).rejects.toMatchObject({ code: 'OBJECT_KEY_INVALID' });
  });
});
