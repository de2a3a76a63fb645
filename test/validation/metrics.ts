/**
 * Scores a validation run against issue 6's acceptance: precision and recall of the `degraded` health state,
 * coverage of the 90 % intervals ([p05, p95] holding the true end-of-window b; overall and split by truth),
 * and the virtual tension MAE at the spans without a load cell. Pure: cases in, figures and misses out.
 */
import type { RollerCase, ScenarioResult, SpanCase } from './run-scenario';
import { MISMATCH_KINDS } from './scenarios';

export const ACCEPTANCE = {
  minPrecision: 0.95,
  minRecall: 0.95,
  coverage: [0.8, 0.97] as [number, number],
  maxTensionMaeN: 2,
};

export interface Coverage {
  covered: number;
  cases: number;
  /** covered / cases, null without cases. */
  rate: number | null;
}

export interface ValidationSummary {
  scenarios: number;
  /** Scenarios whose recalibration found that the model does not explain the window (no verdict). */
  misfits: number;
  /** Scenarios explained only in part (a zone not explained, or a suspect load cell): some rollers unknown. */
  partials: number;
  /** Roller cases reported `unknown` (scored as not flagged). */
  unknownRollers: number;
  rollerCases: number;
  detection: {
    truePositives: number;
    falsePositives: number;
    falseNegatives: number;
    trueNegatives: number;
    /** TP / (TP + FP); 1 when nothing was flagged (no false alarm), reported with the counts. */
    precision: number;
    /** TP / (TP + FN); 1 when nothing was truly degraded. */
    recall: number;
  };
  coverage: { all: Coverage; healthy: Coverage; degraded: Coverage };
  /** EA's 90 % interval holding the plant's EA, and the traction scale's posterior means (min, max). */
  line: { eaCoverage: Coverage; tractionScaleMean: [number, number] | null };
  virtualTension: {
    cases: number;
    maeN: number | null;
    maxAbsErrorN: number | null;
    maeBySpanN: Record<string, number>;
  };
  wallMs: {
    perScenarioMean: number;
    perScenarioMax: number;
    simulateMean: number;
    calibrateMean: number;
  };
  backends: string[];
}

function coverageOf(cases: readonly RollerCase[]): Coverage {
  const covered = cases.filter((c) => c.p05 <= c.trueB && c.trueB <= c.p95).length;
  return { covered, cases: cases.length, rate: cases.length ? covered / cases.length : null };
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN;
}

function absErrors(spans: readonly SpanCase[]): number[] {
  return spans.map((s) => Math.abs(s.virtualN - s.trueN));
}

export function summarise(results: readonly ScenarioResult[]): ValidationSummary {
  const rollers = results.flatMap((r) => r.rollers);
  const spans = results.flatMap((r) => r.spans);
  const flagged = (c: RollerCase) => c.health === 'degraded';
  const tp = rollers.filter((c) => c.trulyDegraded && flagged(c)).length;
  const fp = rollers.filter((c) => !c.trulyDegraded && flagged(c)).length;
  const fn = rollers.filter((c) => c.trulyDegraded && !flagged(c)).length;
  const errors = absErrors(spans);
  const bySpan: Record<string, number> = {};
  for (const name of [...new Set(spans.map((s) => s.span))]) {
    bySpan[name] = mean(absErrors(spans.filter((s) => s.span === name)));
  }
  const totals = results.map((r) => r.simulateMs + r.calibrateMs);
  return {
    scenarios: results.length,
    misfits: results.filter((r) => r.fit.status === 'misfit').length,
    partials: results.filter((r) => r.fit.status === 'partial').length,
    unknownRollers: rollers.filter((c) => c.health === 'unknown').length,
    rollerCases: rollers.length,
    detection: {
      truePositives: tp,
      falsePositives: fp,
      falseNegatives: fn,
      trueNegatives: rollers.length - tp - fp - fn,
      precision: tp + fp ? tp / (tp + fp) : 1,
      recall: tp + fn ? tp / (tp + fn) : 1,
    },
    coverage: {
      all: coverageOf(rollers),
      healthy: coverageOf(rollers.filter((c) => !c.trulyDegraded)),
      degraded: coverageOf(rollers.filter((c) => c.trulyDegraded)),
    },
    line: {
      eaCoverage: (() => {
        const covered = results.filter(
          (r) => r.ea && r.ea.p05 <= r.ea.trueN && r.ea.trueN <= r.ea.p95,
        ).length;
        return { covered, cases: results.length, rate: results.length ? covered / results.length : null };
      })(),
      tractionScaleMean: results.length
        ? [
            Math.min(...results.map((r) => r.tractionScale.mean)),
            Math.max(...results.map((r) => r.tractionScale.mean)),
          ]
        : null,
    },
    virtualTension: {
      cases: spans.length,
      maeN: errors.length ? mean(errors) : null,
      maxAbsErrorN: errors.length ? Math.max(...errors) : null,
      maeBySpanN: bySpan,
    },
    wallMs: {
      perScenarioMean: mean(totals),
      perScenarioMax: totals.length ? Math.max(...totals) : Number.NaN,
      simulateMean: mean(results.map((r) => r.simulateMs)),
      calibrateMean: mean(results.map((r) => r.calibrateMs)),
    },
    backends: [...new Set(results.map((r) => r.backend))].sort(),
  };
}

/** The acceptance bounds the summary misses, one line each (empty when it meets all). */
export function acceptanceMisses(s: ValidationSummary, bounds = ACCEPTANCE): string[] {
  const misses: string[] = [];
  const f = (x: number) => x.toFixed(3);
  const { precision, recall } = s.detection;
  if (!(precision >= bounds.minPrecision)) misses.push(`precision ${f(precision)} < ${bounds.minPrecision}`);
  if (!(recall >= bounds.minRecall)) misses.push(`recall ${f(recall)} < ${bounds.minRecall}`);
  const rate = s.coverage.all.rate;
  const [lo, hi] = bounds.coverage;
  if (rate === null || rate < lo || rate > hi)
    misses.push(`90 % interval coverage ${rate === null ? 'n/a' : f(rate)} outside [${lo}, ${hi}]`);
  const mae = s.virtualTension.maeN;
  if (mae === null || !(mae <= bounds.maxTensionMaeN))
    misses.push(`virtual tension MAE ${mae === null ? 'n/a' : f(mae)} N > ${bounds.maxTensionMaeN} N`);
  return misses;
}

export interface MismatchCounts {
  scenarios: number;
  misfit: number;
  partial: number;
  /**
   * Neither, where the mismatch moved the readings (a signal's mean over the last 48 h by ≥ 1 noise std,
   * mismatchShiftSigma): the recalibration gave its verdicts as if the description were right.
   */
  unreported: number;
  /** Neither, where the mismatch moved no signal by a noise std: the data are what the description says. */
  unobservable: number;
  /** Verdicts (not `unknown`) that contradict the truth (confidentlyWrong). */
  confidentWrongVerdicts: number;
}

export interface MismatchSummary extends MismatchCounts {
  /** (misfit + partial) / the scenarios whose mismatch moved the readings; null without any. */
  reportedRate: number | null;
  byKind: Record<string, MismatchCounts>;
  /** One line per scenario: what the plant did, what the recalibration said. */
  cases: {
    index: number;
    mismatch: string;
    status: string;
    suspectSensors: string[];
    qPerDof: number;
    shiftSigma: number | null;
    wrongVerdicts: string[];
  }[];
}

/**
 * A verdict that contradicts the truth: `healthy` for a degraded bearing (b above the degraded threshold),
 * `suspect` or `degraded` for one at or below the suspect threshold. Between the thresholds either is right.
 */
export function confidentlyWrong(c: RollerCase, suspectAboveNms: number): boolean {
  if (c.health === 'healthy') return c.trulyDegraded;
  if (c.health === 'suspect' || c.health === 'degraded') return c.trueB <= suspectAboveNms;
  return false;
}

/** Smallest shift of a signal's mean (in noise std) that counts as a mismatch the data show. */
export const OBSERVABLE_SHIFT_SIGMA = 1;

const observable = (r: ScenarioResult) => (r.mismatchShiftSigma ?? Infinity) >= OBSERVABLE_SHIFT_SIGMA;

function describeMismatch(r: ScenarioResult): string {
  const m = r.mismatch;
  if (!m) return 'none';
  if (m.kind === 'control') return `control of ${m.plantControlFrom}`;
  if (m.kind === 'swappedSpeeds') return `swapped ${m.signals.join(' ↔ ')}`;
  return `${m.signal} gain ${(100 * m.gain).toFixed(1)} %`;
}

/** Scores the mismatch scenarios: each must end as a misfit or a partial fit, with no wrong verdict. */
export function summariseMismatch(
  results: readonly ScenarioResult[],
  suspectAboveNms: number,
): MismatchSummary {
  const count = (rs: readonly ScenarioResult[]): MismatchCounts => ({
    scenarios: rs.length,
    misfit: rs.filter((r) => r.fit.status === 'misfit').length,
    partial: rs.filter((r) => r.fit.status === 'partial').length,
    unreported: rs.filter((r) => r.fit.status === 'ok' && observable(r)).length,
    unobservable: rs.filter((r) => r.fit.status === 'ok' && !observable(r)).length,
    confidentWrongVerdicts: rs.flatMap((r) => r.rollers).filter((c) => confidentlyWrong(c, suspectAboveNms))
      .length,
  });
  const all = count(results);
  const byKind: Record<string, MismatchCounts> = {};
  for (const kind of MISMATCH_KINDS) {
    const of = results.filter((r) => r.mismatch?.kind === kind);
    if (of.length > 0) byKind[kind] = count(of);
  }
  return {
    ...all,
    reportedRate:
      all.scenarios - all.unobservable > 0
        ? (all.misfit + all.partial) / (all.scenarios - all.unobservable)
        : null,
    byKind,
    cases: results.map((r) => ({
      index: r.index,
      mismatch: describeMismatch(r),
      status: r.fit.status,
      suspectSensors: r.fit.suspectSensors,
      qPerDof: r.fit.qPerDof,
      shiftSigma: r.mismatchShiftSigma ?? null,
      wrongVerdicts: r.rollers
        .filter((c) => confidentlyWrong(c, suspectAboveNms))
        .map((c) => `${c.roller} ${c.health} (true b ${c.trueB.toPrecision(2)})`),
    })),
  };
}

/** The mismatch bounds a summary misses: every scenario reported, no confident wrong verdict. */
export function mismatchMisses(s: MismatchSummary): string[] {
  const misses: string[] = [];
  if (s.unreported > 0)
    misses.push(
      `${s.unreported} of ${s.scenarios - s.unobservable} observable mismatch scenarios not reported as misfit or partial fit`,
    );
  if (s.confidentWrongVerdicts > 0)
    misses.push(`${s.confidentWrongVerdicts} confident wrong verdicts on mismatch scenarios`);
  return misses;
}
