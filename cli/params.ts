/**
 * `selfcal params …`: the operator's view of the gateway's applied parameter sets (show, history,
 * rollback) and the signing tools for manifests (keygen, sign).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { Option, type Command } from 'commander';
import type { AppliedParameters } from '../edge-components/calibration/contract';
import { openParameterStore, type SqliteParameterStore } from '../edge-components/store/parameter-store';
import { checkManifestSchema, keyIdOf, signManifest, type Manifest } from '../twin/calibration/manifest';
import { SelfcalError } from '../twin/errors';

interface ParamsIo {
  stdout: (text: string) => void;
}

function withStore<T>(db: string, work: (store: SqliteParameterStore) => T): T {
  if (!existsSync(db)) throw new SelfcalError('CLI_ARGUMENT_INVALID', `--db ${db}: no such file`);
  const store = openParameterStore(db);
  try {
    return work(store);
  } finally {
    store.close();
  }
}

/** What an operator reads: the set without its audit copy, times as ISO instants. */
function describe(entry: AppliedParameters): Record<string, unknown> {
  return {
    lineId: entry.lineId,
    version: entry.version,
    modelId: entry.modelId,
    appliedAt: new Date(entry.appliedAtMs).toISOString(),
    parameters: entry.parameters,
  };
}

const printJson = (io: ParamsIo, value: unknown) => io.stdout(`${JSON.stringify(value, null, 2)}\n`);

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new SelfcalError('CLI_ARGUMENT_INVALID', `${what} ${file}: ${(cause as Error).message}`, { cause });
  }
}

export function registerParamsCommands(program: Command, io: ParamsIo): void {
  const params = program
    .command('params')
    .description("the gateway's applied parameter sets, and signing of parameter manifests");
  registerAppliedSetCommands(params, io);
  registerSigningCommands(params, io);
}

/** show, history, rollback: the applied parameter sets in the edge store. */
function registerAppliedSetCommands(params: Command, io: ParamsIo): void {
  const db = () => new Option('--db <file>', "the edge store's SQLite file").makeOptionMandatory();
  const line = () => new Option('--line <id>', 'line id').makeOptionMandatory();

  params
    .command('show')
    .description('print the active parameter set of a line')
    .addOption(db())
    .addOption(line())
    .action((o: { db: string; line: string }) => {
      const active = withStore(o.db, (s) => s.active(o.line));
      printJson(
        io,
        active
          ? { active: describe(active) }
          : { active: null, note: `no manifest applied to ${o.line}: the line description's values apply` },
      );
    });

  params
    .command('history')
    .description('print the applied parameter sets of a line, newest first')
    .addOption(db())
    .addOption(line())
    .action((o: { db: string; line: string }) => {
      const { active, history } = withStore(o.db, (s) => ({
        active: s.active(o.line),
        history: s.history(o.line),
      }));
      printJson(
        io,
        history.map((e) => ({ ...describe(e), active: e.version === active?.version })),
      );
    });

  params
    .command('rollback')
    .description('re-activate an earlier applied version (default: the one before the active one)')
    .addOption(db())
    .addOption(line())
    .addOption(
      new Option('--to <version>', 'version to re-activate').argParser((raw) => {
        const v = Number(raw);
        if (!Number.isSafeInteger(v) || v < 1) {
          throw new SelfcalError('CLI_ARGUMENT_INVALID', `--to '${raw}' is not a positive integer`);
        }
        return v;
      }),
    )
    .action((o: { db: string; line: string; to?: number }) => {
      const active = withStore(o.db, (s) => s.rollback(o.line, o.to));
      printJson(io, { active: describe(active) });
    });
}

/** keygen, sign: the Ed25519 keys and the signed envelopes of manifests. */
function registerSigningCommands(params: Command, io: ParamsIo): void {
  params
    .command('keygen')
    .description('create an Ed25519 key pair for signing manifests (<name>.key mode 0600, <name>.pub)')
    .requiredOption('--out <dir>', 'directory to write the key files to')
    .option('--name <name>', 'file name stem', 'selfcal-manifest')
    .action((o: { out: string; name: string }) => writeKeyPair(io, o));

  params
    .command('sign')
    .description('sign a manifest (JSON file) and print the envelope for the calibration shadow')
    .requiredOption('--manifest <file>', 'manifest JSON')
    .requiredOption('--key <pem>', 'Ed25519 private key (PEM, PKCS#8)')
    .option('--key-id <id>', "key id the gateways trust it under (default: the key's fingerprint)")
    .option('--out <file>', 'write the envelope here instead of stdout')
    .action((o: { manifest: string; key: string; keyId?: string; out?: string }) => signManifestFile(io, o));
}

/** `params keygen`: <out>/<name>.key (mode 0600) and <name>.pub, never over existing files. */
function writeKeyPair(io: ParamsIo, o: { out: string; name: string }): void {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  mkdirSync(o.out, { recursive: true });
  const keyFile = join(o.out, `${o.name}.key`);
  const pubFile = join(o.out, `${o.name}.pub`);
  for (const f of [keyFile, pubFile]) {
    if (existsSync(f)) throw new SelfcalError('CLI_ARGUMENT_INVALID', `${f} exists; not overwriting a key`);
  }
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
    flag: 'wx',
  });
  chmodSync(keyFile, 0o600);
  writeFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }), { flag: 'wx' });
  printJson(io, { privateKey: keyFile, publicKey: pubFile, keyId: keyIdOf(publicKey) });
}

/** `params sign`: the signed envelope (schema-checked) on stdout or in a new file. */
function signManifestFile(
  io: ParamsIo,
  o: { manifest: string; key: string; keyId?: string; out?: string },
): void {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readText(o.manifest, '--manifest')) as Manifest;
  } catch (cause) {
    if (cause instanceof SelfcalError) throw cause;
    throw new SelfcalError('CLI_ARGUMENT_INVALID', `--manifest ${o.manifest}: ${(cause as Error).message}`);
  }
  let key;
  try {
    key = createPrivateKey(readText(o.key, '--key'));
  } catch (cause) {
    if (cause instanceof SelfcalError) throw cause;
    throw new SelfcalError('CLI_ARGUMENT_INVALID', `--key ${o.key} is not a PEM private key`, { cause });
  }
  const signed = signManifest(manifest, key, o.keyId ?? keyIdOf(key));
  checkManifestSchema(signed); // Throws MANIFEST_SCHEMA_INVALID with the path: refuse to sign nonsense.
  const text = `${JSON.stringify(signed, null, 2)}\n`;
  if (o.out === undefined) io.stdout(text);
  else writeFileSync(o.out, text, { flag: 'wx' });
}
