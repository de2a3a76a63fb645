/** platform/config.ts (the loader every program uses), platform/retry.ts and platform/logger.ts. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ConfigError, loadConfig, mergeConfig, validateConfig } from '../../../platform/config';
import { createLogger } from '../../../platform/logger';
import { fullJitterDelayMs } from '../../../platform/retry';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1 },
    level: { enum: ['info', 'debug'] },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: { max: { type: 'integer', minimum: 1 }, min: { type: 'integer' } },
    },
    items: {
      type: 'array',
      items: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
    },
  },
} as const;

describe('loadConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'platform-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('layers defaults < file < variable (JSON or a path) < overrides, merging nested objects', () => {
    // Prepare
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ name: 'file', limits: { max: 5 } }));
    const varFile = join(dir, 'v.json');
    writeFileSync(varFile, JSON.stringify({ limits: { min: 2 } }));
    const defaults = { level: 'info', limits: { max: 1, min: 0 } };

    // Act
    const inline = loadConfig<Record<string, unknown>>(schema, {
      file,
      env: { V: JSON.stringify({ level: 'debug' }) },
      envVar: 'V',
      defaults,
      overrides: { name: 'flag' },
    });
    const byPath = loadConfig<Record<string, unknown>>(schema, {
      file,
      env: { V: varFile },
      envVar: 'V',
      defaults,
    });

    // Assess
    expect(inline).toEqual({ name: 'flag', level: 'debug', limits: { max: 5, min: 0 } });
    expect(byPath).toEqual({ name: 'file', level: 'info', limits: { max: 5, min: 2 } });
    expect(Object.isFrozen(inline) && Object.isFrozen(inline['limits'])).toBe(true);
  });

  it.each([
    [{}, 'name', 'is required'],
    [{ name: 'x', colour: 1 }, 'colour', 'is not a known setting'],
    [{ name: 'x', level: 'loud' }, 'level', 'must be one of ["info","debug"]'],
    [{ name: 'x', limits: { max: 0 } }, 'limits/max', 'must be >= 1'],
    [{ name: 'x', items: [{ id: 'a' }, {}] }, 'items/1/id', 'is required'],
  ])('names the key of %j as %s', (value, key, problem) => {
    // Act
    const attempt = () => validateConfig(schema, value);

    // Assess
    expect(attempt).toThrow(new ConfigError(key, problem));
    expect(attempt).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', key }));
  });

  it('refuses no source, an unreadable file and bad JSON with one ConfigError each', () => {
    const base = { envVar: 'V', defaults: {} };
    const attempts = [
      () => loadConfig(schema, { ...base, env: {} }),
      () => loadConfig(schema, { ...base, env: {}, file: join(dir, 'missing.json') }),
      () => loadConfig(schema, { ...base, env: { V: '{nope' } }),
      () => loadConfig(schema, { ...base, env: { V: '{"a":1}' }, file: join(dir, 'missing.json') }),
    ];
    for (const a of attempts) expect(a).toThrow(ConfigError);
    expect(attempts[1]).toThrow(expect.objectContaining({ key: '(file)' }));
  });

  it('merges objects deeply, but an object of another type replaces the one below', () => {
    const base = { store: { type: 'folder', path: '/x' }, opts: { a: 1, b: { c: 2 } }, list: [1, 2] };
    expect(
      mergeConfig(base, { store: { type: 's3', bucket: 'b' }, opts: { b: { d: 3 } }, list: [3] }),
    ).toEqual({ store: { type: 's3', bucket: 'b' }, opts: { a: 1, b: { c: 2, d: 3 } }, list: [3] });
    expect(mergeConfig(base, { store: { path: '/y' } })).toMatchObject({
      store: { type: 'folder', path: '/y' },
    });
  });
});

describe('fullJitterDelayMs', () => {
  it('stays within [0, min(cap, base·2^attempt)) and reaches the cap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (attempt, u) => {
          const d = fullJitterDelayMs(attempt, { baseMs: 100, capMs: 5000 }, () => u);
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThan(Math.min(5000, 100 * 2 ** attempt));
        },
      ),
    );
    expect(fullJitterDelayMs(40, { baseMs: 100, capMs: 5000 }, () => 0.9999)).toBe(4999);
    expect(fullJitterDelayMs(0, { baseMs: 100, capMs: 5000 }, () => 0.5)).toBe(50);
  });
});

describe('createLogger', () => {
  it('writes one JSON line per record with level filtering, bound fields and errors with their code', () => {
    // Prepare
    const lines: string[] = [];
    const log = createLogger({ component: 'c', level: 'info', sink: (l) => lines.push(l), clock: () => 0 });
    const err = Object.assign(new Error('boom'), { code: 'X_FAILED' });

    // Act
    log.debug('hidden');
    log.child({ lineId: 'l1' }).warn('seen', { error: err });

    // Assess
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith('\n')).toBe(true);
    expect(JSON.parse(lines[0] as string)).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      level: 'warn',
      component: 'c',
      msg: 'seen',
      lineId: 'l1',
      error: { name: 'Error', message: 'boom', code: 'X_FAILED' },
    });
  });
});
