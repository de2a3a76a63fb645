/**
 * The fast reference of a recalibration: the twin's joint UKF (JointWebLineEstimator, which the
 * gateways' estimator is built on) from its default prior (ln b ~ N(ln 0.002, 1.5²), wider than the
 * SMC's healthy/worn mixture) over the same window of readings in time order, its posterior of the
 * bearing frictions at the window's end, and a comparison with the SMC's. A diagnostic only: the SMC's posterior is the answer.
 * Pure (no I/O) and deterministic; the injected clock is read for the wall time only.
 */
import {
  JointWebLineEstimator,
  type EstimatorOptions,
  type HealthState,
  type ParameterPosterior,
  type ReportedHealth,
  type Reading,
} from '../../twin/estimation/joint-estimator';
import { normalQuantile } from '../../twin/estimation/normal';
import type { LineTopology } from '../../twin/lines/topology';

export interface UkfReferenceOptions {
  /** Tuning of the joint UKF (default: the twin's defaults, with the traction scale and EA as states like the SMC's). */
  estimator?: EstimatorOptions;
  /** Wall clock for the timing (the result does not depend on it). */
  clock?: () => number;
}

export interface UkfReference {
  /** Per friction parameter (`b4`) at the window's end, in N·m·s/rad (log-normal, quantiles exact). */
  parameters: Record<string, ParameterPosterior>;
  /** Per idler element name (`R4`), by the line's health rule on the UKF's posterior. */
  health: Record<string, HealthState>;
  /** P(b > degradedAboveNms) per idler element name. */
  pDegraded: Record<string, number>;
  /** Filter updates: one per distinct reading time. */
  updates: number;
  wallMs: number;
}

/**
 * Runs the joint UKF over the readings: sorted by time (stable), readings with equal times merged into
 * one update (later values win), as the gateways' reading grouper assembles them.
 */
export function runUkfReference(
  topology: LineTopology,
  readings: readonly Reading[],
  options: UkfReferenceOptions = {},
): UkfReference {
  const clock = options.clock ?? Date.now;
  const t0 = clock();
  // By default the same unknowns as the SMC: the traction scale and EA are states of the filter too.
  const estimator = new JointWebLineEstimator(
    topology,
    options.estimator ?? { model: { estimateMu: true, estimateEa: true } },
  );
  const updates = groupByTime(readings);
  for (const r of updates) estimator.step(r);
  const health: Record<string, HealthState> = {};
  const pDegraded: Record<string, number> = {};
  for (const [name, h] of Object.entries(estimator.health())) {
    health[name] = h.state;
    pDegraded[name] = h.pDegraded;
  }
  return {
    parameters: estimator.parameters(),
    health,
    pDegraded,
    updates: updates.length,
    wallMs: clock() - t0,
  };
}

function groupByTime(readings: readonly Reading[]): Reading[] {
  const sorted = readings.map((r, i) => ({ r, i })).sort((a, b) => a.r.ts - b.r.ts || a.i - b.i);
  const out: Reading[] = [];
  for (const { r } of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last.ts === r.ts)
      out[out.length - 1] = { ts: r.ts, values: { ...last.values, ...r.values } };
    else out.push(r);
  }
  return out;
}

/** How one friction parameter's UKF and SMC posteriors compare. */
export interface ParameterAgreement {
  /** The idler element the parameter belongs to (`R4` for `b4`). */
  roller: string;
  smcHealth: ReportedHealth | undefined;
  ukfHealth: ReportedHealth | undefined;
  /** Posterior medians of ln b (the log-normal fit of each posterior, see `logNormalOf`). */
  smcLnB: number;
  ukfLnB: number;
  /** |Δ ln b| / √(s_smc² + s_ukf²), s the log-std of each posterior. */
  z: number;
  /** Same health state, and the difference of ln b not both significant and material. */
  agrees: boolean;
}

export interface UkfComparison {
  parameters: Record<string, ParameterAgreement>;
  /** Friction parameters on which the UKF and the SMC disagree, in the topology's order. */
  disagreements: string[];
}

export interface ComparisonOptions {
  /** A difference of ln b is significant above this many combined log-stds (default 3). */
  maxZ?: number;
  /**
   * …and material above this factor between the two b (default: the line's degradedAboveNms /
   * suspectAboveNms, 2.5 on the reference line — a whole health band).
   */
  maxFactor?: number;
  /**
   * …and where the larger of the two b reaches this (default: a health band below the suspect threshold,
   * suspectAboveNms² / degradedAboveNms, 0.008 N·m·s/rad on the shipped lines). Below it both read the
   * bearing as healthy with room to spare, and the sensors barely see the difference: on the reference
   * line a healthy b of 1e-4 moves a tension by 0.04 N, so a roller slipping next to it leaves the UKF
   * and the SMC reading its healthy neighbours ×20 apart.
   */
  minMaterialNms?: number;
}

const Z95 = normalQuantile(0.95);

/**
 * ln b ~ N(median, std²) matching a posterior of b: from its 5 %/95 % quantiles when usable (they carry
 * the skew of a particle posterior), else by the moments of a log-normal.
 */
export function logNormalOf(p: ParameterPosterior): { median: number; std: number } {
  if (p.p05 > 0 && p.p95 >= p.p05 && Number.isFinite(p.p95)) {
    return {
      median: (Math.log(p.p05) + Math.log(p.p95)) / 2,
      std: (Math.log(p.p95) - Math.log(p.p05)) / (2 * Z95),
    };
  }
  const s2 = Math.log1p((p.std / p.mean) ** 2);
  return { median: Math.log(p.mean) - s2 / 2, std: Math.sqrt(s2) };
}

interface PosteriorSummary {
  parameters: Readonly<Record<string, ParameterPosterior>>;
  /** Per idler element name. */
  health: Readonly<Record<string, ReportedHealth>>;
}

/**
 * Per friction parameter of the line: does the UKF reference agree with the SMC's posterior? They
 * disagree when the roller's health states differ, or when their ln b differ by more than `maxZ`
 * combined log-stds (significant) and by more than a factor `maxFactor` with the larger b at least
 * `minMaterialNms` (material: the posteriors of healthy bearings are narrow, and a factor below a health
 * band between them, or any factor between two frictions far inside the healthy band, is of no
 * consequence).
 * A parameter missing on either side disagrees, and so does a roller `unknown` on either side (no verdict
 * to agree with).
 */
export function compareWithSmc(
  topology: LineTopology,
  smc: PosteriorSummary,
  ukf: PosteriorSummary,
  options: ComparisonOptions = {},
): UkfComparison {
  const rule = topology.line.health;
  const maxZ = options.maxZ ?? 3;
  const maxLnFactor = Math.log(options.maxFactor ?? rule.degradedAboveNms / rule.suspectAboveNms);
  const lnMaterial = Math.log(options.minMaterialNms ?? rule.suspectAboveNms ** 2 / rule.degradedAboveNms);
  const parameters: Record<string, ParameterAgreement> = {};
  const disagreements: string[] = [];
  topology.frictionParameterNames.forEach((name, k) => {
    const roller = topology.elements[topology.idlers[k] as number]?.name as string;
    const s = smc.parameters[name];
    const u = ukf.parameters[name];
    const a = s ? logNormalOf(s) : { median: Number.NaN, std: Number.NaN };
    const b = u ? logNormalOf(u) : { median: Number.NaN, std: Number.NaN };
    const diff = Math.abs(a.median - b.median);
    const z = diff / Math.max(Math.hypot(a.std, b.std), 1e-12);
    const smcHealth = smc.health[roller];
    const ukfHealth = ukf.health[roller];
    const material = diff > maxLnFactor && Math.max(a.median, b.median) >= lnMaterial;
    const differs = Number.isNaN(diff) || (z > maxZ && material);
    const agrees = smcHealth !== undefined && smcHealth !== 'unknown' && smcHealth === ukfHealth && !differs;
    parameters[name] = { roller, smcHealth, ukfHealth, smcLnB: a.median, ukfLnB: b.median, z, agrees };
    if (!agrees) disagreements.push(name);
  });
  return { parameters, disagreements };
}
