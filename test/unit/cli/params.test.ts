import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../cli/main';
import type { AppliedParameters } from '../../../edge-components/calibration/contract';
import { openParameterStore } from '../../../edge-components/store/parameter-store';
import { verifyManifest } from '../../../twin/calibration/manifest';
import { manifest, NOW_MS, topology } from '../twin/calibration/manifest-fixtures';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), progress: false });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'selfcal-params-cli-'));
const LINE = topology.line.id;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function entry(version: number): AppliedParameters {
  const m = manifest({ version }, version / 1000);
  return {
    lineId: LINE,
    version,
    modelId: m.modelId,
    parameters: m.parameters,
    appliedAtMs: NOW_MS + version,
    manifestJson: '{}',
  };
}

function storeWith(versions: number[]): string {
  const db = join(dir, `store-${versions.join('-')}-${Math.random().toString(36).slice(2)}.db`);
  const store = openParameterStore(db);
  versions.forEach((v) => store.apply(entry(v)));
  store.close();
  return db;
}

describe('selfcal params', () => {
  it('shows the active set, or says that none is applied', async () => {
    const db = storeWith([1, 2]);
    const r = await cli('params', 'show', '--db', db, '--line', LINE);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).active).toMatchObject({
      version: 2,
      lineId: LINE,
      parameters: { b1: { mean: 0.002 } },
    });
    const none = await cli('params', 'show', '--db', db, '--line', 'other');
    expect(JSON.parse(none.out)).toMatchObject({ active: null });
  });

  it('lists the history newest first, marking the active set', async () => {
    const db = storeWith([1, 2, 3]);
    const r = await cli('params', 'history', '--db', db, '--line', LINE);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as { version: number; active: boolean }[];
    expect(rows.map((x) => [x.version, x.active])).toEqual([
      [3, true],
      [2, false],
      [1, false],
    ]);
  });

  it('rolls back to the previous version and to a named one, printing what is active', async () => {
    const db = storeWith([1, 2, 3]);
    const back = await cli('params', 'rollback', '--db', db, '--line', LINE);
    expect(back.code).toBe(0);
    expect(JSON.parse(back.out).active.version).toBe(2);
    const to = await cli('params', 'rollback', '--db', db, '--line', LINE, '--to', '1');
    expect(JSON.parse(to.out).active.version).toBe(1);
    const store = openParameterStore(db);
    expect(store.active(LINE)?.version).toBe(1);
    expect(store.highestVersion(LINE)).toBe(3);
    store.close();
  });

  it.each([
    [
      ['params', 'rollback', '--line', LINE, '--to', '9'],
      /PARAMETERS_VERSION_NOT_FOUND.*never applied version 9/,
    ],
    [['params', 'rollback', '--line', LINE, '--to', 'x'], /--to 'x' is not a positive integer/],
    [['params', 'show', '--line', LINE, '--db', '/nonexistent/x.db'], /no such file/],
    [['params', 'show', '--db', 'x.db'], /required option '--line <id>' not specified/],
  ])('refuses %j with exit code 2 and the reason', async (args, message) => {
    const db = storeWith([1]);
    const withDb = args.includes('--db') ? args : [...args, '--db', db];
    const r = await cli(...withDb);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('generates a key pair (private key 0600), signs a manifest the gateway verifies, refuses to overwrite', async () => {
    // Prepare
    const keys = join(dir, 'keys');
    const gen = await cli('params', 'keygen', '--out', keys);
    expect(gen.code).toBe(0);
    const { privateKey, publicKey, keyId } = JSON.parse(gen.out) as Record<string, string>;
    expect(statSync(privateKey as string).mode & 0o777).toBe(0o600);
    const manifestFile = join(dir, 'manifest.json');
    writeFileSync(manifestFile, JSON.stringify(manifest({ version: 5 }), null, 2));
    // Act
    const signedOut = await cli('params', 'sign', '--manifest', manifestFile, '--key', privateKey as string);
    // Assess
    expect(signedOut.code).toBe(0);
    const trustedKeys = new Map([[keyId as string, createPublicKey(readFileSync(publicKey as string))]]);
    const v = verifyManifest(signedOut.out, {
      topology,
      trustedKeys,
      highestAppliedVersion: 4,
      nowMs: NOW_MS,
    });
    expect(v.ok && v.manifest.version).toBe(5);
    expect((await cli('params', 'keygen', '--out', keys)).code).toBe(2);
  });

  it('signs the README example (docs/examples/manifest.json) into an envelope the gateway verifies but for its dates', async () => {
    // Prepare
    const keys = join(dir, 'keys-readme');
    const gen = JSON.parse((await cli('params', 'keygen', '--out', keys, '--name', 'ops')).out) as Record<
      string,
      string
    >;
    const example = join(__dirname, '../../../docs/examples/manifest.json');
    // Act
    const r = await cli(
      'params',
      'sign',
      '--manifest',
      example,
      '--key',
      join(keys, 'ops.key'),
      '--key-id',
      'ops-2026',
    );
    // Assess: every check passes but the validity window (2026-01), which the example states
    expect(r.code).toBe(0);
    const trustedKeys = new Map([['ops-2026', createPublicKey(readFileSync(gen['publicKey'] as string))]]);
    const within = verifyManifest(r.out, {
      topology,
      trustedKeys,
      highestAppliedVersion: 0,
      nowMs: Date.parse('2026-01-15T00:00:00Z'),
    });
    expect(within.ok).toBe(true);
  });

  it('refuses to sign a manifest that fails the schema', async () => {
    const keys = join(dir, 'keys-2');
    const { privateKey } = JSON.parse((await cli('params', 'keygen', '--out', keys)).out) as Record<
      string,
      string
    >;
    const bad = join(dir, 'bad-manifest.json');
    writeFileSync(bad, JSON.stringify({ ...manifest(), extra: 1 }));
    const r = await cli('params', 'sign', '--manifest', bad, '--key', privateKey as string, '--key-id', 'k');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/MANIFEST_SCHEMA_INVALID.*must NOT have additional properties 'extra'/);
  });
});
