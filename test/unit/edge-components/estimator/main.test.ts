import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ESTIMATOR_CONFIG_ENV } from '../../../../edge-components/estimator/config';
import { ESTIMATOR_DESTINATION } from '../../../../edge-components/estimator/estimator-component';
import { PlantSimulator } from '../../../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../../../simulators/plant/scenario';
import { loadLine } from '../../../../twin/lines/topology';
import { readingRows, tempStore } from './support';

const ROOT = join(__dirname, '../../../..');
const MAIN = join(ROOT, 'edge-components/estimator/main.ts');

/** The estimator as its own process (under tsx); resolves with its exit code and JSON log lines. */
function start(config: object) {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', MAIN], {
    cwd: ROOT,
    env: { ...process.env, [ESTIMATOR_CONFIG_ENV]: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, exited };
}

async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('estimator main', () => {
  it('exits with code 2 naming the key on a bad configuration', async () => {
    const p = start({ dbPath: 'x.db', innovationWindow: 0 });
    expect(await p.exited).toBe(2);
    expect(p.lines[0]).toMatchObject({ level: 'error', code: 'CONFIG_INVALID', key: 'innovationWindow' });
  });

  it('estimates what is in the outbox and stops cleanly on SIGTERM', async () => {
    const tmp = tempStore('estimator-main');
    const store = tmp.open();
    try {
      const sim = new PlantSimulator(loadLine(), defaultScenario({ durationS: 9 * 600 }));
      for (const { reading } of sim.samples()) store.append(readingRows(reading));
      const p = start({ dbPath: tmp.path, synchronous: 'NORMAL', pollIntervalMs: 50 });
      await until(
        () => store.cursor(ESTIMATOR_DESTINATION) > 0 && store.backlog(ESTIMATOR_DESTINATION) === 0,
      );
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      const msgs = p.lines.map((l) => l.msg);
      expect(msgs).toEqual(expect.arrayContaining(['estimator started', 'stopping', 'estimator stopped']));
      expect(p.lines.find((l) => l.msg === 'estimator stopped')).toMatchObject({ readings: 10 });
    } finally {
      store.close();
      tmp.remove();
    }
  });
});
