import type { LineTopology } from '../../twin/lines/topology';
import type { IdlerElement } from '../../twin/lines/types';
import { normalQuantile } from '../../twin/estimation/normal';
import type { ParameterEstimate } from '../calibration/contract';

/** Prior of one bearing friction as the filter holds it: ln b ~ N(logMedian, logStd²). */
export interface LogNormalPrior {
  logMedian: number;
  logStd: number;
}

const Z95 = normalQuantile(0.95);

/**
 * The log-normal that matches a calibrated estimate: from its 5 %/95 % quantiles when they are usable
 * (the calibration's posterior is log-normal-ish, its quantiles carry the skew), else by moments.
 * `minLogStd` keeps the filter from trusting a calibration more than the data between calibrations.
 */
export function logNormalFromEstimate(p: ParameterEstimate, minLogStd: number): LogNormalPrior | undefined {
  if (p.p05 > 0 && p.p95 > p.p05 && Number.isFinite(p.p95)) {
    const logMedian = (Math.log(p.p05) + Math.log(p.p95)) / 2;
    return { logMedian, logStd: Math.max((Math.log(p.p95) - Math.log(p.p05)) / (2 * Z95), minLogStd) };
  }
  if (p.mean > 0 && p.std >= 0 && Number.isFinite(p.mean) && Number.isFinite(p.std)) {
    const s2 = Math.log1p((p.std / p.mean) ** 2);
    return { logMedian: Math.log(p.mean) - s2 / 2, logStd: Math.max(Math.sqrt(s2), minLogStd) };
  }
  return undefined;
}

/**
 * Prior per idler (in the topology's idler order): the applied parameters where they name the idler's
 * `b{n}`, else the line description's bearing friction with the broad `fallbackLogStd`.
 */
export function frictionPriors(
  topology: LineTopology,
  parameters: Readonly<Record<string, ParameterEstimate>> | undefined,
  options: { minLogStd: number; fallbackLogStd: number },
): LogNormalPrior[] {
  return topology.idlers.map((e, k) => {
    const name = topology.frictionParameterNames[k] as string;
    const given = parameters?.[name];
    const fromCalibration = given ? logNormalFromEstimate(given, options.minLogStd) : undefined;
    if (fromCalibration) return fromCalibration;
    const described = (topology.elements[e] as IdlerElement).bearingFrictionNms;
    return { logMedian: Math.log(Math.max(described, 1e-9)), logStd: options.fallbackLogStd };
  });
}
