/**
 * The recalibration workflow's JSONata, evaluated with the jsonata library (the language Step Functions
 * runs; `$states` and Step Functions' `$parse` bound as the service binds them): the window it fixes,
 * the lines it picks from the schedule's input and from the pipe's batch of drift-rule messages, and the
 * job names and configs it submits, which the job's own checks accept (a line's FMU model, `ukfModel`,
 * carried as the stack writes it); the size check of the fleet's job config.
 */
import jsonata from 'jsonata';
import { checkFleetAndWindow } from '../../../../cloud/calibration-job/job-config';
import { defaultJobName } from '../../../../cloud/batch/submit';
import { MAX_CONFIG_BYTES } from '../../../../cloud/batch/submit';
import {
  FLEET_JOB,
  LINE_JOB,
  LINE_RESULTS,
  checkJobFleetSize,
  planExpression,
  type JobFleetEntry,
} from '../../../../cloud/infra/lib/constructs/recalibration-workflow';

const FLEET: JobFleetEntry[] = [
  { lineId: 'plant-a-1', thingName: 'gw-a', line: 'store:lines/plant-a-1.json' },
  { lineId: 'plant-a-2', thingName: 'gw-a', line: 'store:lines/plant-a-2.json' },
  {
    lineId: 'press-line',
    thingName: 'gw-b',
    line: 'store:lines/press-line.json',
    ukfModel: { fmu: 'store:fmus/press-line.fmu', map: 'store:fmus/press-line-map.json', batchMinutes: 20 },
  },
];
const START = '2026-06-02T10:17:03.512Z';

interface Plan {
  source: string;
  window: { from: string; to: string };
  lines: JobFleetEntry[];
}

async function evaluate(expression: string, input: unknown): Promise<unknown> {
  const body = expression.replace(/^\{%/, '').replace(/%\}$/, '');
  return jsonata(body).evaluate(
    {},
    {
      states: { input, context: { Execution: { StartTime: START } } },
      parse: (text: string) => JSON.parse(text) as unknown,
    },
  );
}

const plan = async (input: unknown, windowHours = 24) =>
  JSON.parse(JSON.stringify(await evaluate(planExpression(FLEET, windowHours), input))) as Plan;

/** An SQS record of the pipe's batch, its body what the drift rule's SELECT makes of an alarm. */
const alarm = (thingName: string, lineId: string) => ({
  messageId: `${thingName}-${lineId}`,
  body: JSON.stringify({ thingName, lineId, ts: '2026-06-02T10:00:00Z', reasons: ['FRICTION_DRIFT'] }),
});

describe('the plan', () => {
  it('takes the whole fleet on schedule, the window ending at the scheduled time', async () => {
    const p = await plan({ source: 'schedule', at: '2026-06-02T10:00:00Z' });
    expect(p).toEqual({
      source: 'schedule',
      window: { from: '2026-06-01T10:00:00.000Z', to: '2026-06-02T10:00:00Z' },
      lines: FLEET,
    });
    expect(() => checkFleetAndWindow(p.lines, p.window)).not.toThrow();
  });

  it('reads windowHours of history', async () => {
    const p = await plan({ source: 'schedule', at: '2026-06-03T00:00:00Z' }, 48);
    expect(p.window).toEqual({ from: '2026-06-01T00:00:00.000Z', to: '2026-06-03T00:00:00Z' });
  });

  it('takes, from a batch of alarms, each fleet line whose own gateway raised one, once', async () => {
    const p = await plan([
      alarm('gw-a', 'plant-a-2'),
      alarm('gw-a', 'plant-a-2'),
      alarm('gw-b', 'press-line'),
      alarm('gw-b', 'plant-a-1'), // plant-a-1 runs on gw-a: gw-b cannot ask for it
      alarm('gw-c', 'other-line'),
    ]);
    expect(p.source).toBe('drift');
    expect(p.lines.map((l) => l.lineId)).toEqual(['plant-a-2', 'press-line']);
    expect(p.window).toEqual({ from: '2026-06-01T10:17:03.512Z', to: START });
    expect(() => checkFleetAndWindow(p.lines, p.window)).not.toThrow();
  });

  it('takes the line of a batch of one', async () => {
    const p = await plan([alarm('gw-b', 'press-line')]);
    expect(p.lines.map((l) => l.lineId)).toEqual(['press-line']);
  });

  it('takes no line from alarms of gateways or lines outside the fleet', async () => {
    const p = await plan([alarm('gw-c', 'other-line')]);
    expect(p.lines).toEqual([]);
  });

  it('ends the window at the start of an execution started by hand with no input', async () => {
    const p = await plan({});
    expect(p).toMatchObject({ source: 'schedule', window: { to: START }, lines: FLEET });
  });
});

describe('the jobs it submits', () => {
  const window = { from: '2026-06-01T10:00:00.000Z', to: '2026-06-02T10:00:00Z' };

  it('names the fleet job as cloud/batch/submit.ts does, and passes the fleet and window as jobConfig', async () => {
    const input = { source: 'schedule', window, lines: FLEET };
    const name = (await evaluate(FLEET_JOB.jobName, input)) as string;
    expect(name).toBe(defaultJobName(window).replace('recalibration', 'schedule'));
    expect(name).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/);
    const config = JSON.parse((await evaluate(FLEET_JOB.jobConfig, input)) as string) as unknown;
    expect(config).toEqual({ fleet: FLEET, window });
  });

  it("gives an alarmed line's job a fleet of that one line", async () => {
    const input = { line: FLEET[2], window };
    const name = (await evaluate(LINE_JOB.jobName, input)) as string;
    expect(name).toBe('selfcal-drift-press-line-20260602100000');
    const config = JSON.parse((await evaluate(LINE_JOB.jobConfig, input)) as string) as {
      fleet: unknown;
      window: unknown;
    };
    expect(config).toEqual({ fleet: [FLEET[2]], window });
  });
});

describe("after the alarmed lines' jobs", () => {
  const done = { jobId: 'j-1', kind: 'Gpu' };
  const failed = {
    lineId: 'press-line',
    failed: true,
    error: 'States.TaskFailed',
    cause: '{"StatusReason":"x"}',
  };

  it('fails the execution when any line failed, naming it, and not when none did', async () => {
    expect(await evaluate(LINE_RESULTS.anyFailed, [done, failed])).toBe(true);
    expect(await evaluate(LINE_RESULTS.anyFailed, [failed])).toBe(true);
    expect(await evaluate(LINE_RESULTS.anyFailed, [done])).toBe(false);
    expect(await evaluate(LINE_RESULTS.anyFailed, [done, done])).toBe(false);
    const cause = (await evaluate(LINE_RESULTS.cause, [done, failed])) as string;
    expect(cause).toMatch(/^line\(s\) press-line: /);
    expect(cause).toContain('States.TaskFailed');
  });
});

describe("the fleet's job config size", () => {
  const line = (n: number, withModel: boolean): JobFleetEntry => ({
    lineId: `plant-line-${n}`,
    thingName: `gateway-${n}`,
    line: `store:lines/plant-line-${n}.json`,
    ...(withModel
      ? { ukfModel: { fmu: `store:fmus/plant-line-${n}.fmu`, map: `store:fmus/plant-line-${n}-map.json` } }
      : {}),
  });
  // As many lines as fit without FMU models, with room for fewer than one more line.
  const bytes = (fleet: JobFleetEntry[]) => Buffer.byteLength(JSON.stringify({ fleet })) + 80;
  const n = Array.from({ length: 200 }, (_, k) => k + 1).filter(
    (k) => bytes(Array.from({ length: k }, (_, i) => line(i, false))) <= MAX_CONFIG_BYTES,
  ).length;

  it("counts each line's ukfModel: a fleet that fits without FMU models does not with them", () => {
    expect(n).toBeGreaterThan(10);
    expect(() => checkJobFleetSize(Array.from({ length: n }, (_, i) => line(i, false)))).not.toThrow();
    const withModels = Array.from({ length: n }, (_, i) => line(i, true));
    expect(() => checkJobFleetSize(withModels)).toThrow(
      expect.objectContaining({ code: 'INFRA_CONFIG_INVALID', key: 'fleet' }),
    );
    expect(() => checkJobFleetSize(withModels)).toThrow(/over the 7168 a submission carries/);
  });
});
