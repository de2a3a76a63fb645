/**
 * Runs validation scenarios on a few child processes (one scenario at a time each, real processes so two
 * cores simulate and calibrate in parallel), or in this process with `jobs: 0`. Results come back in
 * scenario order whatever order they finish in; a scenario that throws or a child that dies fails the run.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { SelfcalError } from '../../twin/errors';
import { loadLineFrom } from '../../platform/line-file';
import { runScenario, type RunOptions, type ScenarioResult } from './run-scenario';
import type { ValidationScenario } from './scenarios';

export type ValidationRunErrorCode = 'VALIDATION_SCENARIO_FAILED' | 'VALIDATION_WORKER_EXITED';

export class ValidationRunError extends SelfcalError<ValidationRunErrorCode> {
  constructor(code: ValidationRunErrorCode, message: string) {
    super(code, message);
    this.name = 'ValidationRunError';
  }
}

export interface PoolOptions extends RunOptions {
  /** Child processes (0: run in this process). */
  jobs: number;
  onResult?: (result: ScenarioResult, done: number, total: number) => void;
}

/** What a worker sends back for one scenario. */
export type WorkerReply = { index: number; result: ScenarioResult } | { index: number; error: string };
export interface WorkerRequest {
  scenario: ValidationScenario;
  options: RunOptions;
}

/** The recalibration seed of scenario `index`: distinct per scenario, fixed by the run's seed. */
export function scenarioOptions(options: RunOptions, index: number): RunOptions {
  return { ...options, seed: options.seed * 1000 + index };
}

export async function runScenarios(
  scenarios: readonly ValidationScenario[],
  options: PoolOptions,
): Promise<ScenarioResult[]> {
  const { jobs, onResult, ...run } = options;
  const results: ScenarioResult[] = [];
  const accept = (r: ScenarioResult) => {
    results.push(r);
    onResult?.(r, results.length, scenarios.length);
  };
  if (jobs <= 0) {
    // The run's line, as the workers load it (worker.ts).
    const topology = loadLineFrom(run.line);
    for (const s of scenarios) accept(await runScenario(s, scenarioOptions(run, s.index), topology));
  } else {
    await runOnChildren(scenarios, run, Math.min(jobs, scenarios.length), accept);
  }
  return results.sort((a, b) => a.index - b.index);
}

function runOnChildren(
  scenarios: readonly ValidationScenario[],
  run: RunOptions,
  jobs: number,
  accept: (r: ScenarioResult) => void,
): Promise<void> {
  const queue = [...scenarios];
  const children: ChildProcess[] = [];
  const busy = new Map<ChildProcess, number>();
  let pending = scenarios.length;
  return new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      for (const c of children) c.kill('SIGKILL');
      reject(e);
    };
    const next = (child: ChildProcess) => {
      const s = queue.shift();
      if (!s) return void child.disconnect();
      busy.set(child, s.index);
      const request: WorkerRequest = { scenario: s, options: scenarioOptions(run, s.index) };
      child.send(request);
    };
    for (let j = 0; j < jobs; j++) {
      const child = fork(join(__dirname, 'worker.ts'), [], {
        execArgv: ['-r', 'tsx/cjs'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
      child.on('message', (reply: WorkerReply) => {
        busy.delete(child);
        if ('error' in reply) {
          return fail(
            new ValidationRunError('VALIDATION_SCENARIO_FAILED', `scenario ${reply.index}: ${reply.error}`),
          );
        }
        accept(reply.result);
        if (--pending === 0) {
          for (const c of children) if (c.connected) c.disconnect();
          resolve();
        } else next(child);
      });
      child.on('exit', (code, signal) => {
        const index = busy.get(child);
        if (index !== undefined && !failed) {
          fail(
            new ValidationRunError(
              'VALIDATION_WORKER_EXITED',
              `the worker running scenario ${index} exited (code ${code}, signal ${signal})`,
            ),
          );
        }
      });
      next(child);
    }
  });
}
