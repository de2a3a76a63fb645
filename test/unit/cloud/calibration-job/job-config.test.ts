import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeConfig } from '../../../../platform/config';
import {
  loadJobConfig,
  parseJobConfig,
  seedFor,
  selectLines,
} from '../../../../cloud/calibration-job/job-config';
import { exitCodeFor } from '../../../../cloud/calibration-job/job-errors';
import { jobObjectKeys, jobWindow } from '../../../../cloud/calibration-job/job-keys';

const base = {
  fleet: [{ lineId: 'line-a', thingName: 'gw-a' }],
  window: { from: '2026-06-01T00:00Z', to: '2026-06-02T00:00:00.000Z' },
  objectStore: { type: 'folder', path: '/var/selfcal' },
  sitewise: {},
  shadow: { type: 'mqtt', brokerUrl: 'mqtt://127.0.0.1:1883' },
  signing: { keyFile: '/run/secrets/key.pem' },
};

describe('job config', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'job-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('fills in the defaults', () => {
    // Act
    const c = parseJobConfig(base);

    // Assess
    expect(c.particles).toBe(4096);
    expect(c.backend).toBe('auto');
    expect(c.threads).toBeUndefined();
    expect(c.seed).toBeUndefined();
    expect(c.fleet).toEqual([{ lineId: 'line-a', thingName: 'gw-a', line: 'reference-web-line' }]);
    expect(c.manifest).toEqual({ validityDays: 30, modelId: 'web-line-reduced/1' });
  });

  it('layers file (env) < file (--config) < JSON (env) < JSON (--config-json), merging objects', () => {
    // Prepare
    const envFile = join(dir, 'env.json');
    const argFile = join(dir, 'arg.json');
    writeFileSync(envFile, JSON.stringify({ ...base, particles: 100, manifest: { modelId: 'm-env' } }));
    writeFileSync(argFile, JSON.stringify({ particles: 200, seed: 1 }));
    const env = {
      SELFCAL_JOB_CONFIG: envFile,
      SELFCAL_JOB_CONFIG_JSON: JSON.stringify({ seed: 2, backend: 'cpu', manifest: { validityDays: 7 } }),
    };

    // Act
    const c = loadJobConfig(env, ['--config', argFile, '--config-json={"backend":"webasm"}']);

    // Assess
    expect(c).toMatchObject({ particles: 200, seed: 2, backend: 'webasm' });
    expect(c.manifest).toEqual({ validityDays: 7, modelId: 'm-env' });
  });

  it.each([
    [{ ...base, particles: 'many' }, 'particles'],
    [{ ...base, window: { from: base.window.from } }, 'window/to'],
    [{ ...base, window: { from: base.window.to, to: base.window.from } }, 'window/to'],
    [{ ...base, fleet: [{ lineId: 'a b', thingName: 't' }] }, 'fleet/0/lineId'],
    [{ ...base, fleet: [base.fleet[0], base.fleet[0]] }, 'fleet/1/lineId'],
    [{ ...base, fleet: [] }, 'fleet'],
    [{ ...base, objectStore: { type: 'ftp' } }, 'objectStore/type'],
    [{ ...base, objectStore: { type: 's3' } }, 'objectStore/bucket'],
    [{ ...base, shadow: { type: 'mqtt', brokerUrl: 'http://x' } }, 'shadow/brokerUrl'],
    [{ ...base, signing: {} }, 'signing'],
    [{ ...base, partcles: 10 }, 'partcles'],
    [{ ...base, backend: 'tpu' }, 'backend'],
    [
      { ...base, fleet: [{ lineId: 'a', thingName: 't', ukfModel: { fmu: 'store:a.fmu' } }] },
      'fleet/0/ukfModel/map',
    ],
    [
      {
        ...base,
        fleet: [{ lineId: 'a', thingName: 't', ukfModel: { fmu: 'x', map: 'y', batchMinutes: 0 } }],
      },
      'fleet/0/ukfModel/batchMinutes',
    ],
  ])('refuses %j naming %s, with exit code 2', (raw, key) => {
    // Act
    let error: unknown;
    try {
      parseJobConfig(raw);
    } catch (e) {
      error = e;
    }

    // Assess
    expect(error).toMatchObject({ code: 'JOB_CONFIG_INVALID', key });
    expect((error as Error).message.startsWith(`config key '${key}':`)).toBe(true);
    expect(exitCodeFor(error)).toBe(2);
  });

  it("keeps a fleet line's ukfModel (the FMU as the UKF reference's model) as given", () => {
    const ukfModel = { fmu: 'store:fmus/a.fmu', map: 'store:fmus/a-map.json', batchMinutes: 20 };
    const config = parseJobConfig({ ...base, fleet: [{ lineId: 'a', thingName: 't', ukfModel }] });
    expect(config.fleet[0]).toEqual({ lineId: 'a', thingName: 't', line: 'reference-web-line', ukfModel });
  });

  it('refuses no config, an unreadable file, bad JSON and unknown arguments', () => {
    // Act
    const attempts = [
      () => loadJobConfig({}, []),
      () => loadJobConfig({ SELFCAL_JOB_CONFIG: join(dir, 'missing.json') }, []),
      () => loadJobConfig({ SELFCAL_JOB_CONFIG_JSON: '{nope' }, []),
      () => loadJobConfig({}, ['--config-json', 'Ref::jobConfig']),
      () => loadJobConfig({}, ['--verbose']),
      () => loadJobConfig({}, ['--config']),
    ].map((f) => {
      try {
        f();
        return undefined;
      } catch (e) {
        return (e as { code?: string }).code;
      }
    });

    // Assess
    expect(attempts).toEqual(Array(6).fill('JOB_CONFIG_INVALID'));
  });

  it('takes threads as an integer ≥ 1 and refuses anything else', () => {
    // Act
    const threads = parseJobConfig({ ...base, threads: 3 }).threads;
    const refused = [0, 1.5, '2'].map((t) => {
      try {
        parseJobConfig({ ...base, threads: t });
        return undefined;
      } catch (e) {
        return (e as { code?: string; message: string }).code;
      }
    });

    // Assess
    expect(threads).toBe(3);
    expect(refused).toEqual(Array(3).fill('JOB_CONFIG_INVALID'));
  });

  it('picks fleet[AWS_BATCH_JOB_ARRAY_INDEX], or the whole fleet without it', () => {
    // Prepare
    const c = parseJobConfig({
      ...base,
      fleet: [
        { lineId: 'a', thingName: 'ta' },
        { lineId: 'b', thingName: 'tb', line: 'lines/b.json' },
      ],
    });

    // Act
    const picks = [undefined, '0', '1'].map((i) => selectLines(c, i).map((l) => l.lineId));
    const outOfRange = ['2', '-1', 'x'].map((i) => {
      try {
        selectLines(c, i);
        return 0;
      } catch (e) {
        return exitCodeFor(e);
      }
    });

    // Assess
    expect(picks).toEqual([['a', 'b'], ['a'], ['b']]);
    expect(outOfRange).toEqual([2, 2, 2]);
  });

  it('derives a stable seed per line and window, the same for every spelling of the window', () => {
    // Act
    const s1 = seedFor('a', jobWindow(base.window));
    const s2 = seedFor('a', jobWindow(base.window));
    const s3 = seedFor('b', jobWindow(base.window));
    const s4 = seedFor('a', jobWindow({ ...base.window, to: '2026-06-03T00:00Z' }));
    const respelt = seedFor(
      'a',
      jobWindow({ from: base.window.from.replace('Z', '+00:00'), to: base.window.to }),
    );

    // Assess
    expect(s1).toBe(s2);
    expect(respelt).toBe(s1);
    expect(new Set([s1, s3, s4]).size).toBe(3);
    expect(Number.isInteger(s1) && s1 >= 0 && s1 < 2 ** 31).toBe(true);
  });

  it('keys the outputs by line and the normalised window', () => {
    // Act
    const a = jobObjectKeys('line-a', jobWindow({ from: '2026-06-01T00:00Z', to: '2026-06-02T02:00+02:00' }));
    const b = jobObjectKeys(
      'line-a',
      jobWindow({ from: '2026-06-01T00:00:00.000Z', to: '2026-06-02T00:00:00Z' }),
    );

    // Assess
    expect(a).toEqual(b);
    expect(a.key).toBe('line-a/2026-06-01T00-00-00.000Z_2026-06-02T00-00-00.000Z');
    expect(a.result).toBe(`jobs/${a.key}/result.json`);
    expect(a.savepoint).toBe(`jobs/${a.key}/savepoint.json`);
  });

  it('merges nested objects, replaces arrays and replaces an object of another type', () => {
    // Act
    const m = mergeConfig(
      {
        a: { x: 1, y: 2 },
        l: [1, 2],
        store: { type: 'folder', path: '/p' },
        sh: { type: 'mqtt', brokerUrl: 'u' },
      },
      { a: { y: 3 }, l: [9], store: { type: 's3', bucket: 'b' }, sh: { clientId: 'c' } },
    );

    // Assess
    expect(m).toEqual({
      a: { x: 1, y: 3 },
      l: [9],
      store: { type: 's3', bucket: 'b' },
      sh: { type: 'mqtt', brokerUrl: 'u', clientId: 'c' },
    });
  });
});
