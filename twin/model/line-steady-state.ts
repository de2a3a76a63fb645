/**
 * Steady state of a line under its control structure (twin/lines/control.ts), for any line: no per-line
 * code. In steady state the mass flow C = v·(EA − T) is the same in every span (v the span's web speed);
 * the speed reference fixes C; each tension zone is solved forward from its first span's tension, which is
 * found so that the zone's pin holds (a tension loop's span at its setpoint, a dancer roller's weighted
 * sum of its two spans at its setpoint, or the mass flow into a zone-ending drive of set speed). An idler
 * carries T_out − T_in = b·ω/R (torque balance) with ω from the traction law: slip s = v_in − ω·R with
 * F = Fmax·g(s/vc), Fmax = T_low·(ratio − 1)·tractionScale, ratio = e^{μθ} the largest tension ratio the
 * roller carries. Below Fmax the roller creeps; at it, it slips grossly and ω = R·ΔT/b, still informative.
 * Driven elements report their speed (set, drawn, or the mass flow's web speed at their loop's setpoint),
 * their motor torque, and a dancer its arm angle (proportional to the speed correction it commands).
 *
 * This is the model of the seed line's measured response (test/fixtures/seed-line-response.json) and the
 * estimators' model (the UKF's joint model, the trend likelihood; the gpu.js kernel mirrors it). The first
 * format's solver (twin/model/steady-state.ts) remains only as the bench's and tests' baseline.
 */
import { SelfcalError } from '../errors';
import type { LineTopology } from '../lines/topology';
import type { DriveSpeed, ZonePin } from '../lines/control';
import type { IdlerElement, LineElement, TractionProperties } from '../lines/types';

const { abs: mAbs, cbrt: mCbrt, exp: mExp, max: mMax, min: mMin, pow: mPow, sqrt: mSqrt } = Math;

export interface LineSteadyInputs {
  /** Bearing friction b per idler, in `topology.idlers` order [N·m·s/rad]. */
  frictionNms: ArrayLike<number>;
  /** Web axial stiffness E·A [N]. */
  eaN: number;
  /** Multiplies every idler's traction capacity Fmax (1 = as described). */
  tractionScale: number;
  /**
   * What each zone's tension pin holds, per zone [N]; NaN (or absent) keeps the described setpoint.
   * Ignored for zones held by mass flow. (Estimators use it for controllers that hold a little off.)
   */
  pinSetpointN?: ArrayLike<number>;
  /** The speed reference's speed [m/s] (absent: as described). */
  referenceSpeedMps?: number;
}

export interface LineSteadyState {
  /** Per span (span i joins elements i and i + 1) [N]. */
  tensionN: Float64Array;
  /** Per element [rad/s]. */
  omegaRadPerS: Float64Array;
  /** Per element: web minus roller surface speed; idlers only [m/s]. */
  slipMps: Float64Array;
  /** Per element: the motor torque holding a driven element (b·ω − R·(T_out − T_in)); 0 for idlers [N·m]. */
  driveTorqueNm: Float64Array;
  /** Per dancer with an angle (topology.control.dancerAngles) [°]. */
  dancerAngleDeg: Float64Array;
  /** v·(EA − T), the same in every span [N·m/s]. */
  massFlow: number;
}

export function allocateLineSteadyState(topology: LineTopology): LineSteadyState {
  return {
    tensionN: new Float64Array(topology.spanNames.length),
    omegaRadPerS: new Float64Array(topology.elements.length),
    slipMps: new Float64Array(topology.elements.length),
    driveTorqueNm: new Float64Array(topology.elements.length),
    dancerAngleDeg: new Float64Array(topology.control.dancerAngles.length),
    massFlow: 0,
  };
}

/**
 * A zone's shooting stops once its pin is within SHIFT_TOLERANCE_N (1e-3 N: at 1e-2 N, as the first
 * solver, healthy frictions of 1e-3 N·m·s/rad, whose rises are 0.4 N, came out biased) and removes the rest by a uniform
 * shift (exact at the pin); the mass flow converges to MASS_FLOW_TOLERANCE relative (speeds to < 1e-6 rad/s).
 */
export const SHIFT_TOLERANCE_N = 1e-3;
const MASS_FLOW_TOLERANCE = 1e-8;
const MAX_ITERATIONS = 60;

/**
 * The shape g(u) of the traction law, F/Fmax as a function of u = slip/vc, and its slope: `at(u)` sets
 * `g` and `dg` on the returned object (one transcendental evaluation for both; no allocation).
 */
export interface TractionShape {
  g: number;
  dg: number;
  at(u: number): void;
}

/**
 * x ↦ x^p, by repeated squaring where p is an integer (Math.pow was most of a solve's time on the
 * reference line, whose law is the linear one at sharpness 12: 20 µs a solve with it, 7 µs without).
 */
function integerPower(p: number): (x: number) => number {
  if (!Number.isInteger(p)) return (x) => mPow(x, p);
  return (x) => {
    let r = 1;
    let base = x;
    for (let e = p; e > 0; e >>= 1) {
      if (e & 1) r *= base;
      base *= base;
    }
    return r;
  };
}

/** q ↦ q^(−1/p), by a cube root and square roots where p is 2^i or 3·2^i (8, 12, 16…), else Math.pow. */
function inverseRootOf(p: number): (q: number) => number {
  let twos = 0;
  let rest = p;
  while (Number.isInteger(rest) && rest % 2 === 0) {
    rest /= 2;
    twos++;
  }
  if (rest !== 1 && rest !== 3) return (q) => mPow(q, -1 / p);
  const cube = rest === 3;
  return (q) => {
    let r = cube ? mCbrt(q) : q;
    for (let i = 0; i < twos; i++) r = mSqrt(r);
    return 1 / r;
  };
}

export function tractionShape(law: TractionProperties): TractionShape {
  const k = law.postLimitSlopeFraction;
  if ((law.law ?? 'tanh') === 'tanh') {
    const shape: TractionShape = {
      g: 0,
      dg: 0,
      at(u) {
        const e = mExp(-2 * mAbs(u));
        const th = (u < 0 ? -1 : 1) * ((1 - e) / (1 + e));
        shape.g = th + k * u;
        shape.dg = 1 - th * th + k;
      },
    };
    return shape;
  }
  const p = law.sharpness ?? 8;
  const power = integerPower(p);
  const inverseRoot = inverseRootOf(p);
  const shape: TractionShape = {
    g: 0,
    dg: 0,
    at(u) {
      const q = 1 + power(mAbs(u));
      const root = inverseRoot(q);
      shape.g = u * root + k * u;
      shape.dg = root / q + k;
    },
  };
  return shape;
}

/**
 * The solver of one topology: what its solves share (capacities, radii, set speeds, the reference zone),
 * computed once, and the solve itself as methods over per-call fields, so that a solve allocates nothing
 * (it runs per sigma point and per member-bin).
 */
class LineSolver {
  private readonly shape: TractionShape;
  /** e^{μθ} − 1 per element (0 for driven elements). */
  private readonly capacity: Float64Array;
  private readonly radius: Float64Array;
  /** Surface speed of each drive of set speed (fixed or drawn) as described, NaN otherwise [m/s]. */
  readonly describedSpeed: Float64Array;
  private readonly refZone: number;
  readonly describedRefSpeed: number;
  private readonly vc: number;
  private readonly k: number;
  // per call
  private inputs!: LineSteadyInputs;
  private out!: LineSteadyState;
  private ea = 0;
  private speedScale = 1;

  constructor(private readonly topology: LineTopology) {
    const { elements, control, zones } = topology;
    this.describedSpeed = Float64Array.from(elements, (_, e) => driveSpeedOf(topology, e));
    const ref = control.reference;
    this.refZone = zones.findIndex((z) =>
      ref.kind === 'span'
        ? ref.span >= z.startElement && ref.span < z.endElement
        : z.endElement === ref.element,
    );
    this.describedRefSpeed =
      ref.kind === 'span' ? ref.speedMps : (this.describedSpeed[ref.element] as number);
    this.shape = tractionShape(topology.line.traction);
    this.capacity = Float64Array.from(elements, (e) =>
      e.type === 'idler'
        ? Math.expm1((e as IdlerElement).frictionCoefficient * (e as IdlerElement).wrapAngleRad)
        : 0,
    );
    this.radius = Float64Array.from(elements, (e) => (e as LineElement).radiusM);
    this.vc = topology.line.traction.creepVelocityMps;
    this.k = topology.line.traction.postLimitSlopeFraction;
  }

  solve(inputs: LineSteadyInputs, out: LineSteadyState): LineSteadyState {
    const { elements, zones, control } = this.topology;
    this.inputs = inputs;
    this.out = out;
    const ea = (this.ea = inputs.eaN);
    // A reference speed off its described value (an estimator's speed-loop offset) moves every set
    // speed with it, as a line-speed scale.
    const refSpeed = inputs.referenceSpeedMps ?? this.describedRefSpeed;
    this.speedScale = refSpeed / this.describedRefSpeed;
    const ref = control.reference;
    const refZone = this.refZone;
    const refPin = control.pins[refZone] as ZonePin;
    let massFlow = refSpeed * (ea - (refPin.kind === 'massFlow' ? 0 : this.pinSetpoint(refZone, refPin)));
    let used = massFlow;
    for (let it = 0; it < MAX_ITERATIONS; it++) {
      used = massFlow;
      this.solveZone(refZone, massFlow);
      const tRef = ref.kind === 'span' ? out.tensionN[ref.span] : out.tensionN[ref.element - 1];
      const next = refSpeed * (ea - (tRef as number));
      const done = mAbs(next - massFlow) <= MASS_FLOW_TOLERANCE * massFlow;
      massFlow = next;
      if (done) break;
    }
    // The reference zone was solved with the mass flow of the last iteration (within 1e-8 of the final
    // one; its tensions move by ~1e-7 N for that). Its idlers' ω follow the final mass flow's web speed
    // (slip kept): 1e-8 of the mass flow is 2e-7 rad/s, which at the seed line's speed weights moves ln L
    // by 1e-2; re-solving the zone instead would cost a third more.
    out.massFlow = massFlow;
    this.followWebSpeed(refZone, massFlow, massFlow - used, 0);
    for (let z = 0; z < zones.length; z++) if (z !== refZone) this.solveZone(z, massFlow);

    const last = elements.length - 1;
    for (let e = 0; e <= last; e++) {
      const d = control.driveSpeed[e];
      if (!d) {
        out.driveTorqueNm[e] = 0;
        continue;
      }
      const r = this.radius[e] as number;
      const surface = d.kind === 'massFlowAt' ? massFlow / (ea - d.tensionN) : this.setSpeed(e);
      const omega = surface / r;
      out.omegaRadPerS[e] = omega;
      out.slipMps[e] = 0;
      const tIn = e > 0 ? (out.tensionN[e - 1] as number) : 0;
      const tOut = e < last ? (out.tensionN[e] as number) : 0;
      out.driveTorqueNm[e] = (elements[e] as LineElement).bearingFrictionNms * omega - r * (tOut - tIn);
    }
    const angles = control.dancerAngles;
    for (let i = 0; i < angles.length; i++) {
      const a = angles[i] as (typeof angles)[number];
      const surface = (out.omegaRadPerS[a.element] as number) * (this.radius[a.element] as number);
      out.dancerAngleDeg[i] = a.degPerRelativeSpeed * (1 - surface / refSpeed);
    }
    return out;
  }

  private setSpeed(e: number): number {
    return (this.describedSpeed[e] as number) * this.speedScale;
  }

  /** One idler: ω and ΔT from the incoming web speed and tension; writes ω and slip, returns ΔT. */
  private idler(e: number, tIn: number, massFlow: number): number {
    const b = this.inputs.frictionNms[this.topology.idlerSlot[e] as number] as number;
    const r = this.radius[e] as number;
    const { vc, k, shape } = this;
    const v = massFlow / (this.ea - tIn);
    const fMax = mMax(tIn, 0) * (this.capacity[e] as number) * this.inputs.tractionScale;
    let omega: number;
    if (b === 0) omega = v / r;
    else if (fMax <= 0) omega = 0;
    else {
      // h(ω) = b·ω/R − Fmax·g((v − ωR)/vc), increasing on [0, v/R] from < 0 to > 0.
      let lo = 0;
      let hi = v / r;
      // Start from the creep regime's linearisation, or, where that would carry more than Fmax, from
      // gross slip's (ΔT ≈ Fmax·(1 + k·u)): Newton from the wrong regime crawls along the knee.
      omega = v / r / (1 + (b * vc) / (r * r * fMax * (1 + k)));
      if ((b * omega) / r > fMax)
        omega = mMin((fMax * (1 + (k * v) / vc)) / (b / r + (fMax * k * r) / vc), v / r);
      for (let it = 0; it < 100; it++) {
        shape.at((v - omega * r) / vc);
        const h = (b * omega) / r - fMax * shape.g;
        if (h > 0) hi = omega;
        else lo = omega;
        let next = omega - h / (b / r + (fMax * shape.dg * r) / vc);
        if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
        if (mAbs(next - omega) <= 1e-12 * omega || hi - lo <= 1e-12 * hi) {
          omega = next;
          break;
        }
        omega = next;
      }
    }
    this.out.omegaRadPerS[e] = omega;
    this.out.slipMps[e] = v - omega * r;
    return (b * omega) / r;
  }

  /** Tensions through zone z from its first span's tension. */
  private forward(spans: readonly number[], t0: number, massFlow: number): void {
    const tension = this.out.tensionN;
    let t = t0;
    tension[spans[0] as number] = t;
    for (let k = 1; k < spans.length; k++) {
      const e = spans[k] as number;
      t += this.idler(e, t, massFlow);
      tension[e] = t;
    }
  }

  private pinSetpoint(z: number, pin: ZonePin & { setpointN: number }): number {
    const given = this.inputs.pinSetpointN?.[z];
    return given !== undefined && Number.isFinite(given) ? given : pin.setpointN;
  }

  private residual(z: number, pin: ZonePin, massFlow: number): number {
    const tension = this.out.tensionN;
    if (pin.kind === 'span') return (tension[pin.span] as number) - this.pinSetpoint(z, pin);
    if (pin.kind === 'dancerRoller') {
      return (
        pin.weightUp * (tension[pin.upstream] as number) +
        pin.weightDown * (tension[pin.downstream] as number) -
        this.pinSetpoint(z, pin)
      );
    }
    return (tension[pin.element - 1] as number) - (this.ea - massFlow / this.setSpeed(pin.element));
  }

  private solveZone(z: number, massFlow: number): void {
    this.out.massFlow = massFlow;
    const pin = this.topology.control.pins[z] as ZonePin;
    const spans = (this.topology.zones[z] as LineTopology['zones'][number]).spans;
    const target =
      pin.kind === 'massFlow' ? this.ea - massFlow / this.setSpeed(pin.element) : this.pinSetpoint(z, pin);
    // First tension from the friction rises at the free web speed before the pin (b·v/R² each).
    let t0 = target - this.riseBeforePin(pin, spans, massFlow);
    this.forward(spans, t0, massFlow);
    let e0 = this.residual(z, pin, massFlow);
    // The pin's residual grows with the first tension (slope ≥ the pin's weight): secant from slope 1,
    // until the residual is within SHIFT_TOLERANCE_N.
    // The residual is increasing in the first tension, so the tensions tried so far bracket the root:
    // a secant step that leaves the bracket is replaced by its midpoint. (Unguarded, the secant cycled
    // where a worn zone's web goes slack below some first tension and the residual turns flat: seen on
    // the reference line with b7…b10 = 0.07…0.25.)
    let lo = e0 < 0 ? t0 : -Infinity;
    let hi = e0 < 0 ? Infinity : t0;
    let t1 = t0 - e0;
    for (let it = 0; it < MAX_ITERATIONS && !(mAbs(e0) <= SHIFT_TOLERANCE_N); it++) {
      this.forward(spans, t1, massFlow);
      const e1 = this.residual(z, pin, massFlow);
      if (e1 < 0) lo = mMax(lo, t1);
      else hi = mMin(hi, t1);
      const slope = (e1 - e0) / (t1 - t0);
      t0 = t1;
      e0 = e1;
      t1 = t1 - e1 / (Number.isFinite(slope) && slope > 0.05 ? slope : 1);
      if (!(t1 > lo && t1 < hi) && Number.isFinite(lo) && Number.isFinite(hi)) t1 = 0.5 * (lo + hi);
    }
    if (!(mAbs(e0) <= SHIFT_TOLERANCE_N)) {
      const start =
        this.topology.elements[(this.topology.zones[z] as LineTopology['zones'][number]).startElement];
      throw new SelfcalError(
        'MODEL_INPUT_INVALID',
        `steady state: zone ${start?.name} did not settle (residual ${e0} N)`,
      );
    }
    // What remains is removed by shifting the zone's tensions together: every pin then holds exactly
    // (dancer weights sum to 1), and the creep computed before the shift moves by < 1e-4 relative. Each
    // idler's ω follows its incoming web speed to the shifted tension (its slip kept): the speeds then
    // no longer depend on where in the tolerance band the shooting stopped (at the seed line's speed
    // weights, 1e-3 N of tension is 5e-8 rad/s, which moves ln L by 1e-2).
    const tension = this.out.tensionN;
    for (let k = 0; k < spans.length; k++) {
      const sp = spans[k] as number;
      tension[sp] = (tension[sp] as number) - e0;
    }
    this.followWebSpeed(z, massFlow, 0, e0);
  }

  /**
   * Moves each idler's ω of zone z with its incoming web speed (slip kept) for mass flow `now`, larger by
   * dMassFlow than the one it was solved with, and tensions already shifted down by `shifted`.
   */
  private followWebSpeed(z: number, now: number, dMassFlow: number, shifted: number): void {
    const spans = (this.topology.zones[z] as LineTopology['zones'][number]).spans;
    const tension = this.out.tensionN;
    const omega = this.out.omegaRadPerS;
    const ea = this.ea;
    const before = now - dMassFlow;
    for (let k = 1; k < spans.length; k++) {
      const e = spans[k] as number;
      const post = tension[spans[k - 1] as number] as number;
      const moved = now / (ea - post) - before / (ea - post - shifted);
      omega[e] = (omega[e] as number) + moved / (this.radius[e] as number);
    }
  }

  /** Σ b·v/R² over the zone's idlers upstream of the pin's span(s) (weighted for a dancer roller). */
  private riseBeforePin(pin: ZonePin, spans: readonly number[], massFlow: number): number {
    const until =
      pin.kind === 'span' ? pin.span : pin.kind === 'dancerRoller' ? pin.downstream : pin.element - 1;
    let rise = 0;
    let riseUp = 0;
    for (let k = 1; k < spans.length && (spans[k] as number) <= until; k++) {
      const e = spans[k] as number;
      const r = this.radius[e] as number;
      if (pin.kind === 'dancerRoller' && e === pin.downstream) riseUp = rise;
      rise +=
        ((this.inputs.frictionNms[this.topology.idlerSlot[e] as number] as number) * (massFlow / this.ea)) /
        (r * r);
    }
    return pin.kind === 'dancerRoller' ? pin.weightUp * riseUp + pin.weightDown * rise : rise;
  }
}

const solvers = new WeakMap<LineTopology, LineSolver>();

function solverFor(topology: LineTopology): LineSolver {
  let solver = solvers.get(topology);
  if (!solver) {
    solver = new LineSolver(topology);
    solvers.set(topology, solver);
  }
  return solver;
}

/** The speed reference's speed as described (a span's web speed, or a set drive's surface speed) [m/s]. */
/** The set speed [m/s] of a drive at a fixed speed or at a draw from one (NaN for any other element). */
function driveSpeedOf(topology: LineTopology, e: number): number {
  const d = topology.control.driveSpeed[e] as DriveSpeed | undefined;
  if (d?.kind === 'fixed') return d.speedMps;
  if (d?.kind === 'draw') return driveSpeedOf(topology, d.from) * d.ratio;
  return Number.NaN;
}

/** The described set speed [m/s] of element e (NaN where it does not run at a set speed or a draw). */
export function describedDriveSpeedMps(topology: LineTopology, e: number): number {
  return solverFor(topology).describedSpeed[e] as number;
}

export function describedReferenceSpeedMps(topology: LineTopology): number {
  return solverFor(topology).describedRefSpeed;
}

export function solveLineSteadyState(
  topology: LineTopology,
  inputs: LineSteadyInputs,
  out: LineSteadyState = allocateLineSteadyState(topology),
): LineSteadyState {
  validate(topology, inputs);
  return solveValidatedLineSteadyState(topology, inputs, out);
}

/** solveLineSteadyState without the input checks, for callers that clamp their inputs (hot paths). */
export function solveValidatedLineSteadyState(
  topology: LineTopology,
  inputs: LineSteadyInputs,
  out: LineSteadyState,
): LineSteadyState {
  return solverFor(topology).solve(inputs, out);
}

/** One finite, non-negative friction per idler, or MODEL_INPUT_INVALID naming the first that is not. */
export function checkFrictions(topology: LineTopology, frictionNms: ArrayLike<number>): void {
  if (frictionNms.length !== topology.idlers.length) {
    throw new SelfcalError(
      'MODEL_INPUT_INVALID',
      `expected ${topology.idlers.length} friction values (one per idler), got ${frictionNms.length}`,
    );
  }
  for (let k = 0; k < frictionNms.length; k++) {
    const b = frictionNms[k] as number;
    if (!Number.isFinite(b) || b < 0) {
      throw new SelfcalError('MODEL_INPUT_INVALID', `frictionNms[${k}] must be finite and ≥ 0, got ${b}`);
    }
  }
}

function validate(topology: LineTopology, inputs: LineSteadyInputs): void {
  checkFrictions(topology, inputs.frictionNms);
  for (const key of ['eaN', 'tractionScale'] as const) {
    const v = inputs[key];
    if (!Number.isFinite(v) || v <= 0) {
      throw new SelfcalError('MODEL_INPUT_INVALID', `${key} must be finite and positive, got ${v}`);
    }
  }
}
