/**
 * The property names and value codes the edge estimator and the calibration job write to SiteWise for a
 * line (ARCHITECTURE.md "Signals and names"), as pure data: the publisher, the job, the dashboards and the
 * infrastructure's asset model all spell them from here.
 */
import type { ReportedHealth } from './estimation/joint-estimator';
import { rollerPropertyPrefix } from './lines/topology';

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
