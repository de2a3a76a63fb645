import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCalibrationJob, type StoredResult } from '../../../../cloud/calibration-job/job';
import { jobObjectKeys, jobWindow } from '../../../../cloud/calibration-job/job-keys';
import { memoryLogger } from '../../../../cloud/calibration-job/job-log';
import { verifyManifest, type SignedManifest } from '../../../../twin/calibration/manifest';
import { DRAW_LINE_ID, loadLine } from '../../../../twin/lines/topology';
import { EXIT_MISFIT } from '../../../../cloud/calibration-job/job-errors';
import { misfitFilterPattern } from '../../../../cloud/infra/lib/constructs/observability';
import { WINDOW, WINDOW_FROM_S, WINDOW_TO_S, plantReadings, unitRig, type UnitRig } from './job-test-support';

const topology = loadLine();

/**
 * A CloudWatch JSON filter pattern of string equalities joined by && and || (what the CDK app's metric
 * filters are made of) as a predicate on a parsed log record.
 */
function jsonFilter(pattern: string): (record: Record<string, unknown>) => boolean {
  const body = pattern
    .replace(/^\{\s*|\s*\}$/g, '')
    .replace(
      /\$\.([A-Za-z_]+)\s*=\s*("[^"]*")/g,
      (_m, field: string, value: string) => `r[${JSON.stringify(field)}] === ${value}`,
    );
  if (!/^[\s()&|r[\]"=A-Za-z_0-9-]*$/.test(body)) throw new Error(`not a pattern of equalities: ${pattern}`);
  return new Function('r', `return ${body};`) as (record: Record<string, unknown>) => boolean;
}
const keys = (lineId: string) => jobObjectKeys(lineId, jobWindow(WINDOW));
const readings = plantReadings(11);

async function storedResult(rig: UnitRig, lineId: string): Promise<StoredResult | undefined> {
  const body = await rig.store.get(keys(lineId).result);
  return body && (JSON.parse(body.toString()) as StoredResult);
}

describe('runCalibrationJob', () => {
  let rig: UnitRig;
  afterEach(() => rig?.close());

  it('computes, stores the result, writes the posterior at the window end and publishes a verifiable manifest', async () => {
    // Prepare
    rig = unitRig({ 'line-a': readings });
    const { log, records } = memoryLogger();

    // Act
    const outcome = await runCalibrationJob(rig.config(), rig.io, { signer: rig.signer, log });

    // Assess
    expect(outcome.exitCode).toBe(0);
    expect(outcome.lines[0]).toMatchObject({ compute: 'computed', manifest: 'published' });
    const result = await storedResult(rig, 'line-a');
    expect(Object.keys(result?.output.parameters ?? {})).toEqual([...topology.frictionParameterNames]);
    expect(rig.io.sink.writes).toEqual([{ lineId: 'line-a', atS: WINDOW_TO_S, output: result?.output }]);
    const signed = rig.io.channel.shadows.get('gw-line-a');
    const verdict = verifyManifest(signed, {
      topology,
      trustedKeys: new Map([[rig.signer.keyId, rig.publicKey]]),
      highestAppliedVersion: 0,
      nowMs: WINDOW_TO_S * 1000 + 60_000,
    });
    expect(verdict.ok).toBe(true);
    expect(signed?.manifest).toMatchObject({ version: WINDOW_TO_S, source: { jobId: keys('line-a').key } });
    expect(await rig.store.get(keys('line-a').savepoint)).toBeUndefined();
    const progress = records.filter((r) => r['msg'] === 'progress');
    expect(progress.length).toBe(result?.output.diagnostics.stages);
    expect(progress[0]).toEqual(expect.objectContaining({ stage: 1, ess: expect.any(Number) }));
  });

  it('skips the compute and the publish when the same window runs again, with the same manifest bytes', async () => {
    // Prepare
    rig = unitRig({ 'line-a': readings });
    await runCalibrationJob(rig.config(), rig.io, { signer: rig.signer, log: memoryLogger().log });
    const manifestFile = join(rig.dir, 'store', keys('line-a').manifest);
    const firstManifest = readFileSync(manifestFile, 'utf8');
    const { log, records } = memoryLogger();

    // Act
    const again = await runCalibrationJob(rig.config(), rig.io, { signer: rig.signer, log });

    // Assess
    expect(again.lines[0]).toMatchObject({ compute: 'skipped', manifest: 'already-delivered', exitCode: 0 });
    expect(rig.io.source.reads).toBe(1);
    expect(rig.io.channel.published).toBe(1);
    expect(readFileSync(manifestFile, 'utf8')).toBe(firstManifest);
    expect(rig.io.sink.writes[1]?.output).toEqual(rig.io.sink.writes[0]?.output);
    expect(records.map((r) => r['msg'])).toContain('manifest already delivered');
  });

  it('resumes from the savepoint after a crash and gives the uninterrupted result', async () => {
    // Prepare
    const reference = unitRig({ 'line-a': readings });
    await runCalibrationJob(reference.config(), reference.io, {
      signer: reference.signer,
      log: memoryLogger().log,
    });
    const expected = (await storedResult(reference, 'line-a'))?.output;
    reference.close();
    rig = unitRig({ 'line-a': readings });
    const crash = await runCalibrationJob(rig.config(), rig.io, {
      signer: rig.signer,
      log: memoryLogger().log,
      afterSavepoint: (_line, stage) => {
        if (stage === 3) throw new Error('lost host');
      },
    });
    const { log, records } = memoryLogger();

    // Act
    const retry = await runCalibrationJob(rig.config(), rig.io, { signer: rig.signer, log });

    // Assess
    expect(crash.exitCode).toBe(1);
    expect(retry.lines[0]).toMatchObject({ compute: 'resumed', manifest: 'published', exitCode: 0 });
    expect(records.find((r) => r['msg'] === 'resumed')).toEqual(expect.objectContaining({ stage: 3 }));
    const got = (await storedResult(rig, 'line-a'))?.output;
    expect(got?.parameters).toEqual(expected?.parameters);
    expect(got?.health).toEqual(expected?.health);
    expect(got?.diagnostics.logEvidence).toBe(expected?.diagnostics.logEvidence);
  });

  it('ignores a savepoint made with other inputs', async () => {
    // Prepare
    rig = unitRig({ 'line-a': readings });
    await runCalibrationJob(rig.config({ particles: 64 }), rig.io, {
      signer: rig.signer,
      log: memoryLogger().log,
      afterSavepoint: () => {
        throw new Error('crash');
      },
    });
    const { log, records } = memoryLogger();

    // Act
    const outcome = await runCalibrationJob(rig.config(), rig.io, { signer: rig.signer, log });

    // Assess
    expect(outcome.lines[0]).toMatchObject({ compute: 'computed', exitCode: 0 });
    expect(records.map((r) => r['msg'])).toContain('savepoint ignored: its inputs differ');
    expect((await storedResult(rig, 'line-a'))?.inputs.particles).toBe(128);
  });

  it('reads a line given as a description file; an unreadable one is JOB_INPUT_INVALID (exit 2), the others still run', async () => {
    // Prepare
    rig = unitRig({ 'file-line': readings, 'missing-line': readings });
    const file = join(rig.dir, 'plant-7.json');
    writeFileSync(
      file,
      readFileSync(join(__dirname, '../../../../twin/lines/reference-web-line.json'), 'utf8'),
    );
    const missing = join(rig.dir, 'missing.json');
    const config = rig.config({
      fleet: [
        { lineId: 'file-line', thingName: 'gw-file-line', line: file },
        { lineId: 'missing-line', thingName: 'gw-missing-line', line: missing },
      ],
    });

    // Act
    const outcome = await runCalibrationJob(config, rig.io, { signer: rig.signer, log: memoryLogger().log });

    // Assess
    expect(outcome.exitCode).toBe(2);
    expect(outcome.lines[0]).toMatchObject({ lineId: 'file-line', exitCode: 0, manifest: 'published' });
    expect(outcome.lines[1]?.error).toMatchObject({
      code: 'JOB_INPUT_INVALID',
      message: expect.stringContaining(`line missing-line: line description /: cannot read '${missing}'`),
    });
  });

  it('refuses an empty window with exit code 2 and still calibrates the other lines', async () => {
    // Prepare
    rig = unitRig({ empty: [], 'line-b': readings });

    // Act
    const outcome = await runCalibrationJob(rig.config(), rig.io, {
      signer: rig.signer,
      log: memoryLogger().log,
    });

    // Assess
    expect(outcome.exitCode).toBe(2);
    expect(outcome.lines[0]?.error).toMatchObject({ code: 'JOB_INPUT_INVALID' });
    expect(outcome.lines[1]).toMatchObject({ lineId: 'line-b', exitCode: 0, manifest: 'published' });
  });

  it('signs no manifest for a window its line model does not explain, exits 3 and still does the other lines', async () => {
    // Prepare: the draw-controlled line's plant under the fleet's reference-line description
    const other = plantReadings(11, WINDOW_FROM_S, 3600, loadLine(DRAW_LINE_ID));
    rig = unitRig({ misfit: other, 'line-b': readings });
    const { log, records } = memoryLogger();

    // Act
    const outcome = await runCalibrationJob(rig.config(), rig.io, { signer: rig.signer, log });

    // Assess
    expect(outcome.exitCode).toBe(EXIT_MISFIT);
    expect(outcome.lines[0]).toMatchObject({ lineId: 'misfit', exitCode: EXIT_MISFIT, manifest: 'withheld' });
    expect(outcome.lines[1]).toMatchObject({ lineId: 'line-b', exitCode: 0, manifest: 'published' });
    expect(rig.io.channel.shadows.has('gw-misfit')).toBe(false);
    expect(await rig.store.get(keys('misfit').manifest)).toBeUndefined();
    const written = rig.io.sink.writes.find((w) => w.lineId === 'misfit')?.output;
    expect(written?.fit.ok).toBe(false);
    expect(new Set(Object.values(written?.health ?? {}))).toEqual(new Set(['unknown']));
    expect(records.find((r) => r['msg'] === 'model misfit: no manifest signed')).toMatchObject({
      level: 'warn',
      lineId: 'misfit',
      dof: written?.fit.dof,
    });
    // The deployment's misfit alarm counts, with a CloudWatch metric filter on these JSON lines, this one.
    const counted = records.filter(jsonFilter(misfitFilterPattern().logPatternString));
    expect(counted.map((r) => [r['msg'], r['lineId']])).toEqual([
      ['model misfit: no manifest signed', 'misfit'],
    ]);
  });

  it('refuses to sign parameters outside the physical bounds', async () => {
    // Prepare
    rig = unitRig({ 'line-a': readings });
    await runCalibrationJob(rig.config(), rig.io, { signer: rig.signer, log: memoryLogger().log });
    rig.io.channel.shadows.clear();
    const result = (await storedResult(rig, 'line-a')) as StoredResult;
    (result.output.parameters['b3'] as { mean: number }).mean = 5;
    await rig.store.put(keys('line-a').result, JSON.stringify(result));

    // Act
    const outcome = await runCalibrationJob(rig.config(), rig.io, {
      signer: rig.signer,
      log: memoryLogger().log,
    });

    // Assess
    expect(outcome.exitCode).toBe(2);
    expect(outcome.lines[0]?.error).toMatchObject({ code: 'JOB_MANIFEST_OUT_OF_BOUNDS' });
    expect((outcome.lines[0]?.error as Error).message).toContain('b3');
    expect(rig.io.channel.shadows.size).toBe(0);
  });

  it('does not publish over a newer manifest in the shadow', async () => {
    // Prepare
    rig = unitRig({ 'line-a': readings });
    rig.io.channel.shadows.set('gw-line-a', {
      manifest: { version: WINDOW_TO_S + 1 },
    } as unknown as SignedManifest);

    // Act
    const outcome = await runCalibrationJob(rig.config(), rig.io, {
      signer: rig.signer,
      log: memoryLogger().log,
    });

    // Assess
    expect(outcome.lines[0]).toMatchObject({ compute: 'computed', manifest: 'already-delivered' });
    expect(rig.io.channel.shadows.get('gw-line-a')?.manifest.version).toBe(WINDOW_TO_S + 1);
  });
});
