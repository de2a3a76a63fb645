/**
 * Physical bounds of the parameters a manifest may carry for a line. The names come from the line
 * description (one `b{n}` per idler, required), plus the optional global `mu_scale` and `ea_N`.
 */
import type { LineTopology } from '../lines/topology';
import type { ParameterEstimate } from './manifest';

export interface ParameterBound {
  /** Inclusive bounds of mean, p05 and p95 (a quantile outside the physical range is as wrong as a mean). */
  min: number;
  max: number;
  required: boolean;
}

export interface BoundsOptions {
  /** Largest credible bearing friction [N·m·s/rad]; a seized bearing at 20 rad/s and 0.05 m radius would
   *  need > 400 N of tension rise at 1, far beyond any web tension. */
  maxFrictionNms?: number;
  /** Range of the traction scale (`mu_scale`: multiplies every idler's traction capacity; matches the joint model's clamp). */
  muScale?: readonly [number, number];
  /** EA may differ from the description by at most this factor either way. */
  eaFactor?: number;
}

export const DEFAULT_MAX_FRICTION_NMS = 1;
export const MU_SCALE_PARAMETER = 'mu_scale';
export const EA_PARAMETER = 'ea_N';

export function parameterBounds(
  topology: LineTopology,
  options: BoundsOptions = {},
): Map<string, ParameterBound> {
  const maxB = options.maxFrictionNms ?? DEFAULT_MAX_FRICTION_NMS;
  const [muMin, muMax] = options.muScale ?? [0.05, 20];
  const eaFactor = options.eaFactor ?? 10;
  const ea = topology.line.web.eaN;
  const bounds = new Map<string, ParameterBound>();
  for (const name of topology.frictionParameterNames) bounds.set(name, { min: 0, max: maxB, required: true });
  bounds.set(MU_SCALE_PARAMETER, { min: muMin, max: muMax, required: false });
  bounds.set(EA_PARAMETER, { min: ea / eaFactor, max: ea * eaFactor, required: false });
  return bounds;
}

/** The first bounds problem of a parameter set as [parameter name, problem], or undefined when it is sane. */
export function boundsProblem(
  parameters: Readonly<Record<string, ParameterEstimate>>,
  bounds: ReadonlyMap<string, ParameterBound>,
): [string, string] | undefined {
  for (const name of Object.keys(parameters)) {
    if (!bounds.has(name)) {
      return [name, `is not a parameter of this line (known: ${[...bounds.keys()].join(', ')})`];
    }
  }
  for (const [name, bound] of bounds) {
    const p = parameters[name];
    if (p === undefined) {
      if (bound.required) return [name, 'is missing (every idler needs its friction)'];
      continue;
    }
    for (const key of ['mean', 'p05', 'p95'] as const) {
      const v = p[key];
      if (!(v >= bound.min && v <= bound.max)) {
        return [name, `${key} ${v} is outside the physical range [${bound.min}, ${bound.max}]`];
      }
    }
    if (!(p.std > 0) || !Number.isFinite(p.std)) return [name, `std ${p.std} must be finite and > 0`];
    // Only the quantiles must be ordered: the mean of a skewed posterior may lie outside [p05, p95]
    // (a healthy friction's posterior, piled up near 0 with a long upper tail, often has mean > p95).
    if (!(p.p05 <= p.p95)) return [name, `quantiles out of order: p05 ${p.p05} > p95 ${p.p95}`];
  }
  return undefined;
}

/** The line description's own values as a parameter set: what applies before any manifest. */
export function lineDefaultParameters(topology: LineTopology): Record<string, ParameterEstimate> {
  const out: Record<string, ParameterEstimate> = {};
  topology.idlers.forEach((e, k) => {
    const b = topology.elements[e]?.bearingFrictionNms ?? 0;
    const name = topology.frictionParameterNames[k] as string;
    out[name] = { mean: b, std: Math.max(b, 1e-6), p05: b, p95: b };
  });
  return out;
}
