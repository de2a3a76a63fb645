/** The JSON format of a web-line description (`twin/lines/*.json`), after schema validation. */
import type { ControlDescription } from './control';

export interface WebProperties {
  /** Axial stiffness E·A of the web [N]. */
  eaN: number;
  /**
   * How far the recalibration may believe eaN off: the log-std of its prior on EA (default 0.2, the
   * described value within ×1.39 at 90 %).
   */
  eaLogStd?: number;
}

export interface TractionProperties {
  /** Creep velocity scale of the smooth creep–slip law [m/s]. */
  creepVelocityMps: number;
  /** Slope beyond the traction limit, as a fraction of the creep slope (keeps the law invertible). */
  postLimitSlopeFraction: number;
  /**
   * Shape below the limit: `tanh` (F/Fmax = tanh(s/vc), the default) or `linear` (F/Fmax =
   * u/(1 + u^p)^(1/p), u = s/vc: linear creep up to near the limit, then gross slip; p = `sharpness`).
   */
  law?: 'tanh' | 'linear';
  /** p of the `linear` law (default 8). */
  sharpness?: number;
  /**
   * How far the recalibration may believe the idlers' traction limits off, together: the log-std of its
   * prior on a line-wide scale of every capacity (default 0.2; 0.05 where the tension ratios were
   * measured). Only a roller in gross slip informs the scale, and without load cells on both sides of it
   * the data give only b/scale: a loose prior then loosens that roller's b.
   */
  scaleLogStd?: number;
}

interface RotatingElementBase {
  name: string;
  radiusM: number;
  inertiaKgM2: number;
  /** Bearing viscous friction b [N·m·s/rad]. */
  bearingFrictionNms: number;
}

export interface IdlerElement extends RotatingElementBase {
  type: 'idler';
  /**
   * The traction limit: the largest tension ratio T_high/T_low the roller carries is e^{μθ}. Given as
   * `maxTensionRatio` in a description, it is stored as μ = ln(ratio)/θ (θ as described, else π).
   */
  wrapAngleRad: number;
  frictionCoefficient: number;
  maxTensionRatio?: number;
}

export interface NipElement extends RotatingElementBase {
  type: 'nip';
}

export interface WinderElement extends RotatingElementBase {
  type: 'unwind' | 'rewind';
}

export type LineElement = IdlerElement | NipElement | WinderElement;

export interface SpanDescription {
  name: string;
  from: string;
  to: string;
  lengthM: number;
}

export interface DancerDescription {
  /** The span the dancer sits in (it sets that span's tension through its piston force). */
  span: string;
  armLengthM: number;
  massKg: number;
  dampingNsPerM: number;
  pistonAreaM2: number;
  pistonPressureSetpointPa: number;
}

export interface Setpoints {
  lineSpeedMps: number;
  /** The nip whose speed sets the line speed. */
  speedMaster: string;
  /** Draw of the zone that starts at the named nip: the next nip runs (1 + draw) times faster. */
  draws: Record<string, number>;
  /** Tension setpoints of tension-controlled winders [N] (an unwind with a dancer follows the dancer). */
  tensionsN: Record<string, number>;
}

export type SensorKind = 'angularSpeed' | 'tension' | 'dancerAngle';

export interface SensorDescription {
  signal: string;
  kind: SensorKind;
  /** Element (angularSpeed) or span (tension); absent for the dancer angle. */
  at?: string;
  noiseStd: number;
}

export interface HealthRule {
  /** A roller is degraded when P(b > degradedAboveNms) ≥ confidence. */
  degradedAboveNms: number;
  /** … and suspect when P(b > suspectAboveNms) ≥ confidence. */
  suspectAboveNms: number;
  confidence: number;
  /** Consecutive updates the condition must hold before a roller is flagged. */
  persistUpdates: number;
}

export interface LineDescription {
  schemaVersion: 1;
  id: string;
  title: string;
  web: WebProperties;
  traction: TractionProperties;
  elements: LineElement[];
  spans: SpanDescription[];
  dancer?: DancerDescription;
  /** The first format's control: a speed-master nip, draws, winder tensions (or `control`). */
  setpoints?: Setpoints;
  /** The control structure as data (twin/lines/control.ts); replaces `setpoints`. */
  control?: ControlDescription;
  sensors: SensorDescription[];
  health: HealthRule;
  /** How far the reduced model may be from this line (the recalibration's model discrepancy). */
  model?: ModelFit;
}

export interface ModelFit {
  /**
   * Per-channel model discrepancy τ_c in multiples of the sensor's σ_c (default 5). Set it from a
   * measured comparison of the reduced model with the real line (the seed line: 2, its measured response
   * table reproduced within 0.7 σ on speeds and 0.1 σ on tensions); too small makes a biased fit confident.
   */
  discrepancyInSigmas: number;
  /** Per sensor kind, replacing discrepancyInSigmas for that kind (the seed line: tensions fit 5× closer than speeds). */
  byKind?: Partial<Record<SensorKind, number>>;
  /** Per sensor signal, replacing byKind for that signal (the seed line's nip encoders: see the README). */
  bySignal?: Record<string, number>;
}
