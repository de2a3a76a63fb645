import { readFileSync } from 'node:fs';

/**
 * Fault injection for the emulator. A rule is active while the emulator clock is in [fromMs, toMs)
 * (either bound optional) and, when `count` is set, for that many more matching requests.
 */
export type FaultKind =
  /** HTTP 503 ServiceUnavailableException for the whole request. */
  | 'unavailable'
  /** HTTP 429 ThrottlingException for the whole request. */
  | 'throttle'
  /** Delay the response by `latencyMs`, then handle the request normally (combines with others). */
  | 'latency'
  /** BatchPut only: a seeded `fraction` of entries fail with `errorCode` inside HTTP 200 errorEntries. */
  | 'partialFailure'
  /** Destroy the socket without a response; the SDK reports a network error. */
  | 'dropConnection';

export interface FaultRule {
  kind: FaultKind;
  /** Operation names (e.g. 'BatchPutAssetPropertyValue'); all operations when omitted. */
  operations?: string[];
  fromMs?: number;
  toMs?: number;
  /** Applies to the next N matching requests only. */
  count?: number;
  latencyMs?: number;
  /** partialFailure: fraction of entries to fail, 0..1 (default 0.5). */
  fraction?: number;
  /** partialFailure: the per-entry code (default InternalFailureException). */
  errorCode?: string;
}

export interface FaultSchedule {
  /** Seed for partialFailure's choice of entries. */
  seed?: number;
  rules: FaultRule[];
}

export interface ActiveFault extends FaultRule {
  id: number;
  /** Requests it still applies to (undefined = unlimited). */
  remaining?: number;
}

/** What the server must do with one request. */
export interface FaultDecision {
  latencyMs: number;
  /** The first terminal fault, if any: answers instead of the handler. */
  terminal?: 'unavailable' | 'throttle' | 'dropConnection';
  partialFailure?: { fraction: number; errorCode: string };
  /** Kinds applied, for stats. */
  applied: FaultKind[];
}

const KINDS: readonly FaultKind[] = [
  'unavailable',
  'throttle',
  'latency',
  'partialFailure',
  'dropConnection',
];

export class FaultController {
  private rules: ActiveFault[] = [];
  private nextId = 1;
  private seed = 1;
  private draws = 0;

  constructor(schedule?: FaultSchedule) {
    if (schedule) this.load(schedule);
  }

  /** Replaces all rules with the schedule's. */
  load(schedule: FaultSchedule): void {
    this.clear();
    this.seed = schedule.seed ?? 1;
    for (const r of schedule.rules) this.add(r);
  }

  add(rule: FaultRule): number {
    validateRule(rule);
    const id = this.nextId++;
    this.rules.push({ ...rule, id, remaining: rule.count });
    return id;
  }

  remove(id: number): void {
    this.rules = this.rules.filter((r) => r.id !== id);
  }

  clear(): void {
    this.rules = [];
    this.draws = 0;
  }

  list(): ActiveFault[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /** Picks the faults for one request and consumes their counts. */
  decide(operation: string, nowMs: number): FaultDecision {
    const decision: FaultDecision = { latencyMs: 0, applied: [] };
    for (const r of this.rules) {
      if (r.operations && !r.operations.includes(operation)) continue;
      if (r.fromMs !== undefined && nowMs < r.fromMs) continue;
      if (r.toMs !== undefined && nowMs >= r.toMs) continue;
      if (r.remaining !== undefined && r.remaining <= 0) continue;
      if (r.kind === 'partialFailure' && operation !== 'BatchPutAssetPropertyValue') continue;
      if (r.kind === 'latency') {
        decision.latencyMs += r.latencyMs ?? 0;
      } else if (r.kind === 'partialFailure') {
        if (decision.partialFailure || decision.terminal) continue;
        decision.partialFailure = {
          fraction: r.fraction ?? 0.5,
          errorCode: r.errorCode ?? 'InternalFailureException',
        };
      } else {
        if (decision.terminal) continue;
        decision.terminal = r.kind;
      }
      if (r.remaining !== undefined) r.remaining -= 1;
      decision.applied.push(r.kind);
    }
    this.rules = this.rules.filter((r) => r.remaining === undefined || r.remaining > 0);
    return decision;
  }

  /** Deterministic per (seed, draw number): the same schedule fails the same entries. */
  draw(): number {
    return mulberry32(this.seed + 0x9e3779b9 * ++this.draws);
  }
}

function mulberry32(a: number): number {
  let t = (a + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function validateRule(r: FaultRule): void {
  if (!KINDS.includes(r.kind))
    throw new Error(`Unknown fault kind '${String(r.kind)}'; use one of ${KINDS.join(', ')}`);
  if (r.count !== undefined && (!Number.isInteger(r.count) || r.count < 1)) {
    throw new Error(`Fault count must be a positive integer, got ${r.count}`);
  }
  if (r.fraction !== undefined && !(r.fraction >= 0 && r.fraction <= 1)) {
    throw new Error(`Fault fraction must be in [0, 1], got ${r.fraction}`);
  }
  if (r.kind === 'latency' && !(typeof r.latencyMs === 'number' && r.latencyMs >= 0)) {
    throw new Error('A latency fault needs latencyMs >= 0');
  }
}

/** Reads a FaultSchedule from a JSON file (standalone mode). */
export function readFaultScheduleFile(path: string): FaultSchedule {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as FaultSchedule).rules)) {
    throw new Error(`Fault file ${path} must hold {"seed"?: number, "rules": [...]}`);
  }
  const schedule = parsed as FaultSchedule;
  for (const r of schedule.rules) validateRule(r);
  return schedule;
}
