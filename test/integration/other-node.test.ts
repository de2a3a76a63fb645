/**
 * The packaged components on another Node major than the one running the tests (gateways run Node 20 or
 * 22): `npm run package -- --node N` builds the SQLite addon for it, the recipes' Install step accepts it,
 * and the bundled ingest run by that node stores what it receives over MQTT. Opt-in, as it fetches that
 * Node from the npm registry and compiles the addon (~2 min the first time):
 *
 *   npm run test:node22        (SELFCAL_TEST_NODE_MAJOR=22)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { connectAsync } from 'mqtt';
import {
  COMPONENTS,
  HOST_TARGET,
  nodeDistCache,
  packageComponents,
  parseRecipe,
  type PackagedComponent,
} from '../../scripts/package-components';
import { nodeTargetOf, stepOf } from '../unit/recipes/recipe-fixtures';
import { waitFor } from '../unit/edge-components/ingest/support';

const MAJOR = process.env['SELFCAL_TEST_NODE_MAJOR'];
const REPO = resolve(__dirname, '../..');

function collect(child: ChildProcess): () => string {
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  return () => out;
}

(MAJOR ? describe : describe.skip)(
  `the packaged components on Node ${MAJOR ?? '(set SELFCAL_TEST_NODE_MAJOR)'}`,
  () => {
    let dir: string;
    let packaged: PackagedComponent[];
    let node: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'selfcal-other-node-'));
      packaged = await packageComponents({ outDir: join(dir, 'artifacts'), nodeMajors: [MAJOR!] });
      node = join(nodeDistCache(MAJOR!), 'package/bin/node');
    }, 600_000);
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('packages an addon for both this Node and the other one', () => {
      const abi = spawnSync(node, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).stdout.trim();
      for (const p of packaged) {
        expect(p.files).toEqual(
          expect.arrayContaining([
            `better_sqlite3-${HOST_TARGET}-abi${process.versions.modules}.node`,
            `better_sqlite3-${HOST_TARGET}-abi${abi}.node`,
          ]),
        );
      }
    });

    it.each(COMPONENTS.map((c) => c.name))("%s: the recipe's Install step accepts the other Node", (name) => {
      const p = packaged.find((x) => x.name === name)!;
      const recipe = parseRecipe(readFileSync(p.recipeFile, 'utf8'));
      const manifest = recipe.Manifests.find((m) => nodeTargetOf(m.Platform) === HOST_TARGET)!;
      const script = stepOf(manifest, 'Install').Script.replaceAll('{artifacts:path}', p.dir);
      const result = spawnSync('sh', ['-c', script], {
        env: { PATH: `${dirname(node)}:${process.env['PATH'] ?? ''}` },
        encoding: 'utf8',
      });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    });

    it('the bundled ingest, run by the other Node, stores what it receives and stops cleanly', async () => {
      // Arrange: a broker (this Node, the CLI), the ingest bundle on the other Node
      const broker = spawn(process.execPath, ['cli/bin.js', 'broker', '--port', '0'], { cwd: REPO });
      const brokerOut = collect(broker);
      try {
        await waitFor(() => /"port":\d+/.test(brokerOut()), 30_000, 'broker listening');
        const port = Number(/"port":(\d+)/.exec(brokerOut())![1]);
        const dbPath = join(dir, 'outbox.db');
        const ingestDir = packaged.find((x) => x.name === 'com.selfcal.Ingest')!.dir;
        const ingest = spawn(node, [join(ingestDir, 'main.js')], {
          cwd: dir,
          env: {
            PATH: process.env['PATH'],
            SELFCAL_INGEST_CONFIG: JSON.stringify({ dbPath, brokerUrl: `mqtt://127.0.0.1:${port}` }),
          },
        });
        const out = collect(ingest);
        const exit = new Promise<number | null>((r) => ingest.once('exit', (code) => r(code)));
        await waitFor(() => out().includes('"ingest ready"'), 30_000, 'ingest ready').catch((e: Error) => {
          throw new Error(`${e.message}; the ingest wrote:\n${out()}`);
        });

        // Act
        const client = await connectAsync(`mqtt://127.0.0.1:${port}`);
        const ts = Math.floor(Date.now() / 1000);
        for (let k = 0; k < 10; k++) {
          await client.publishAsync(
            'lines/reference-web-line/telemetry',
            JSON.stringify({ ts: ts - 10 + k, values: { S5_Tension_N: 100 + k, Roller4_w: 20 } }),
            { qos: 1 },
          );
        }
        await client.endAsync();
        // The broker acknowledged the publishes; the ingest commits them as it receives them (its own
        // PUBACKs to the broker follow each commit).
        const stored = () => {
          const db = new Database(dbPath, { readonly: true, fileMustExist: true });
          try {
            return (db.prepare('select count(*) as n from readings').get() as { n: number }).n;
          } finally {
            db.close();
          }
        };
        await waitFor(() => stored() === 20, 30_000, 'the 20 readings committed');
        ingest.kill('SIGTERM');

        // Assess: every acknowledged message stored, by the addon of the other Node
        expect(await exit).toBe(0);
        expect(out()).toContain(`"store closed"`);
        expect(out()).toContain('"committedReadings":20');
        expect(stored()).toBe(20);
      } finally {
        broker.kill('SIGTERM');
      }
    }, 60_000);
  },
);
