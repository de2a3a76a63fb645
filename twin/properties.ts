/**
 * The property names and value codes the edge estimator and the calibration job write to SiteWise for a
 * line (ARCHITECTURE.md "Signals and names"), as pure data: the publisher, the job, the dashboards and the
 * infrastructure's asset model all spell them from here.
 */
import { EA_PARAMETER, MU_SCALE_PARAMETER } from './calibration/bounds';
import type { ReportedHealth } from './estimation/joint-estimator';
import { rollerPropertyPrefix, type LineTopology } from './lines/topology';
import type { IdlerElement } from './lines/types';

/** `RollerN_health`: 0 healthy, 1 suspect, 2 degraded, 3 unknown (the model does not explain the window). */
export const HEALTH_CODES: Readonly<Record<ReportedHealth, number>> = {
  healthy: 0,
  suspect: 1,
  degraded: 2,
  unknown: 3,
};

export type FitStatus = 'ok' | 'partial' | 'misfit';

/** `line_fit_status`: 0 the model explains the window, 1 only part of the line, 2 not at all. */
export const FIT_STATUS_CODES: Readonly<Record<FitStatus, number>> = { ok: 0, partial: 1, misfit: 2 };

export type SensorStatus = 'ok' | 'missing' | 'stuck';

/** `<signal>_sensor_status`: 0 ok, 1 missing, 2 stuck. */
export const SENSOR_STATUS_CODES: Readonly<Record<SensorStatus, number>> = { ok: 0, missing: 1, stuck: 2 };

/** Suffixes of the properties derived from a signal, a virtual sensor or a parameter. */
export const PROPERTY_SUFFIX = {
  std: '_std',
  p05: '_p05',
  p95: '_p95',
  health: '_health',
  sensorStatus: '_sensor_status',
  residualZ: '_residual_z',
  residualRms: '_residual_rms',
  suspect: '_suspect',
  gainSuspect: '_gain_suspect',
  gainEstimate: '_gain_estimate',
  edge: '_edge',
} as const;

/** The line-level fit properties the job writes. */
export const LINE_FIT_PROPERTIES = {
  ok: 'line_fit_ok',
  status: 'line_fit_status',
  qPerDof: 'line_fit_q_per_dof',
} as const;

/** Per-line signal the edge estimator writes: the windowed median of NIS/dof (≈ 1 when the model fits). */
export const INNOVATION_SCORE_SIGNAL = 'InnovationScore';

/** `R4` → `Roller4_health`. */
export const healthProperty = (elementName: string): string =>
  `${rollerPropertyPrefix(elementName)}${PROPERTY_SUFFIX.health}`;

/**
 * The edge estimator's posterior of a bearing friction: `b4_edge` (mean), `b4_edge_p05`, `b4_edge_p95` (its
 * 5 %/95 % quantiles), the same shape as the calibration job's `b4`, `b4_p05`, `b4_p95` under names of
 * their own (the edge's filter and the cloud's recalibration are two estimates, written at other times).
 */
export function edgeFrictionProperties(parameter: string): { mean: string; p05: string; p95: string } {
  const mean = `${parameter}${PROPERTY_SUFFIX.edge}`;
  return { mean, p05: `${mean}${PROPERTY_SUFFIX.p05}`, p95: `${mean}${PROPERTY_SUFFIX.p95}` };
}

/** Names of a line's virtual sensors: every span's tension, then every idler's slip velocity. */
export function virtualSensorNames(topology: LineTopology): string[] {
  return [
    ...topology.spanNames.map((s) => `${s}_Tension_N_virtual`),
    ...topology.idlers.map(
      (e) => `${rollerPropertyPrefix((topology.elements[e] as IdlerElement).name)}_SlipVelocity_mps_virtual`,
    ),
  ];
}

/** The SiteWise properties of one line, by who writes them (each list in a stable order, no repeats). */
export interface LineProperties {
  /** The measured signals, as the ingest receives them and the publisher forwards them. */
  measured: string[];
  /** What the edge estimator writes: virtual sensors and their σ, each bearing friction's posterior
   * (`b{n}_edge` mean with `_p05`, `_p95`), roller health, the innovation score, every signal's sensor
   * status. */
  edge: string[];
  /** What the calibration job writes: each parameter's mean, σ and 5/95 % quantiles (frictions, the
   * traction scale, EA), roller health, virtual sensors and their σ, the line fit, and per signal its
   * residuals and suspicion, per load cell its gain check. */
  cloud: string[];
}

export function lineProperties(topology: LineTopology): LineProperties {
  const signals = topology.line.sensors.map((s) => s.signal);
  const loadCells = topology.line.sensors.filter((s) => s.kind === 'tension').map((s) => s.signal);
  const virtual = virtualSensorNames(topology);
  const health = topology.idlers.map((e) => healthProperty((topology.elements[e] as IdlerElement).name));
  const withStd = (names: readonly string[]) => names.flatMap((n) => [n, `${n}${PROPERTY_SUFFIX.std}`]);
  const parameters = [...topology.frictionParameterNames, MU_SCALE_PARAMETER, EA_PARAMETER];
  return {
    measured: signals,
    edge: [
      ...withStd(virtual),
      ...topology.frictionParameterNames.flatMap((p) => {
        const e = edgeFrictionProperties(p);
        return [e.mean, e.p05, e.p95];
      }),
      ...health,
      INNOVATION_SCORE_SIGNAL,
      ...signals.map((s) => `${s}${PROPERTY_SUFFIX.sensorStatus}`),
    ],
    cloud: [
      ...parameters.flatMap((p) => [
        p,
        `${p}${PROPERTY_SUFFIX.std}`,
        `${p}${PROPERTY_SUFFIX.p05}`,
        `${p}${PROPERTY_SUFFIX.p95}`,
      ]),
      ...health,
      ...withStd(virtual),
      LINE_FIT_PROPERTIES.ok,
      LINE_FIT_PROPERTIES.status,
      LINE_FIT_PROPERTIES.qPerDof,
      ...signals.flatMap((s) => [
        `${s}${PROPERTY_SUFFIX.residualZ}`,
        `${s}${PROPERTY_SUFFIX.residualRms}`,
        `${s}${PROPERTY_SUFFIX.suspect}`,
      ]),
      ...loadCells.flatMap((s) => [
        `${s}${PROPERTY_SUFFIX.gainSuspect}`,
        `${s}${PROPERTY_SUFFIX.gainEstimate}`,
      ]),
    ],
  };
}
