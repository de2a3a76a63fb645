/**
 * The plant's own dynamic model of a web line (issue 14): it shares only the line description with
 * `twin/` (elements, spans, the `control` section read through `controlOf`), never the reduced model's
 * creep law or steady-state solver. It is the estimators' adversary, so its formulation differs on
 * purpose:
 *
 *  - **Span transport by unstretched mass.** Each span holds an unstretched length ℓ = L/(1+ε); web
 *    leaves every contact at an unstretched flow q. dℓ/dt = q_in − q_out, so
 *    dε/dt = (1+ε)²·(q_out − q_in)/L + (1+ε)·L̇/L (a dancer arm changes L), T = EA·ε.
 *  - **Idlers** carry the web through a contact of their own: the web over the roller (a small mass m)
 *    moves at v, the roller at ωR; the contact force is F = F_cap·x/√(1+x²) with x = k·(v − ωR)/F_cap,
 *    k = F_cap⁺/v_c (the description's creep velocity), F_cap⁺ = T_in·(r − 1) when the roller holds the
 *    web back and F_cap⁻ = T_in·(1 − 1/r) when it drives it (capstan, r the maximum tension ratio).
 *    m·dv/dt = T_out − T_in − F;  J·dω/dt = R·F − b·ω;  q = v/(1+ε_in).
 *  - **Nips and winders** clamp the web: q = ωR/(1+ε) of the span entering them (the web is gripped at
 *    the strain it arrives with, as in the transport equation of ARCHITECTURE.md; the unwind: of the span
 *    it feeds, the roll being wound at that tension), driven by a motor: J·dω/dt = τ + R·(T_out − T_in) − b·ω.
 *  - **Controllers** as the description says, each realised as a plant engineer would wire it:
 *    speed → PI speed loop with load-torque feed-forward (from the load on the roll); draw → the same
 *    loop on (1 + draw) × the other drive's measured speed; tension on a nip → the nip's speed trimmed by
 *    a PI loop on the named span; tension on a winder → torque control (feed-forward R·T_set, PI on the
 *    tension, speed damping); dancer → the drive's speed command scaled by (1 − θ/K), θ the arm angle
 *    [°] (a proportional dancer loop, so the arm's angle shows the speed correction). A speed reference
 *    on a span trims the speed-mode drive until that span's web moves at the reference speed.
 *  - **Dancer arm**: a carriage of mass M whose travel x lengthens its spans by 2·w·x (w the weights of
 *    a roller dancer, 1 for a span dancer), pushed by a piston force 2·T_set against 2·Σ w·T, damped.
 *
 * State: [ε per span, ω per element, v per idler, controller integrators, (x, ẋ) per dancer].
 */
import { controlOf, type DancerControl, type DriveControl } from '../../twin/lines/control';
import type { IdlerElement, LineDescription, LineElement } from '../../twin/lines/types';
import { Ros2Integrator } from './rosenbrock';

const { abs: mAbs, exp: mExp, log1p: mLog1p, max: mMax, PI } = Math;

/** Physical constants that a line description does not give; the plant's own choices. */
export interface WebPhysicsOptions {
  /** Web mass over one idler's contact [kg]. */
  contactMassKg: number;
  /** Dancer arm length (travel per radian) [m], mass [kg] and damping [N·s/m] where the line gives none. */
  armLengthM: number;
  armMassKg: number;
  armDampingNsPerM: number;
  /** Arm angle per relative speed correction where a dancer gives none [°]. */
  dancerDegPerRelativeSpeed: number;
}

export const DEFAULT_WEB_PHYSICS: WebPhysicsOptions = {
  contactMassKg: 1,
  armLengthM: 0.5,
  armMassKg: 5,
  armDampingNsPerM: 4000,
  dancerDegPerRelativeSpeed: 580,
};

/** The plant's readings of one state. */
export interface WebObservation {
  /** Per span, in description order [N]. */
  tensionN: Float64Array;
  /** Per element [rad/s]. */
  omega: Float64Array;
  /** Per element: web speed minus surface speed [m/s] (0 for clamping contacts). */
  slipMps: Float64Array;
  /** Per element: motor torque [N·m] (0 for idlers). */
  motorTorqueNm: Float64Array;
  /** Per span: the web's speed where it leaves the span [m/s]. */
  webSpeedMps: Float64Array;
  /** Per dancer [°]. */
  dancerAngleDeg: Float64Array;
}

export class WebPlantError extends Error {
  constructor(
    message: string,
    readonly code: 'PLANT_UNREALISABLE' | 'PLANT_NOT_SETTLED',
  ) {
    super(message);
    this.name = 'WebPlantError';
  }
}

type Drive =
  | { kind: 'speed'; element: number; speedMps: number; refTrim: boolean }
  | { kind: 'draw'; element: number; from: number; ratio: number }
  | { kind: 'nipTension'; element: number; span: number; setpointN: number; sign: number; integ: number }
  | { kind: 'winderTension'; element: number; span: number; setpointN: number; sign: number; integ: number }
  | { kind: 'dancer'; element: number; dancer: number };

interface Dancer {
  spans: number[];
  weights: number[];
  setpointN: number;
  degPerRel: number;
  armLengthM: number;
  massKg: number;
  dampingNsPerM: number;
}

const SPEED_KP_PER_J = 20;
const SPEED_KI_PER_KP = 5;
const NIP_TENSION_KP = 1e-4;
const NIP_TENSION_KI = 5e-5;
const WINDER_TENSION_KP = 0.5;
const WINDER_TENSION_KI = 2;
const WINDER_DAMPING_NS_PER_M = 500;
const REF_KP = 0.05;
const REF_KI = 0.05;

export class WebPhysics {
  readonly nSpans: number;
  readonly nElements: number;
  readonly size: number;
  /** Bearing friction per element [N·m·s/rad]; the slow state, set between settles. */
  readonly frictionNms: Float64Array;
  private readonly ea: number;
  private readonly radius: Float64Array;
  private readonly inertia: Float64Array;
  private readonly baseLength: Float64Array;
  /** Span index entering / leaving each element (−1 at the line's ends). */
  private readonly spanIn: Int32Array;
  private readonly spanOut: Int32Array;
  /** The element each span leaves (spans may be listed in any order). */
  private readonly spanFrom: Int32Array;
  private readonly idlerSlot: Int32Array;
  private readonly ratio: Float64Array;
  private readonly creepVelocityMps: number;
  /** Sliding friction's rise with slip beyond the limit, as a fraction of the creep slope (the description's). */
  private readonly slideSlope: number;
  private readonly drives: Drive[] = [];
  /** Speed-loop integrator slot per element (−1: torque-controlled or idler). */
  private readonly speedInteg: Int32Array;
  private readonly dancers: Dancer[] = [];
  private readonly refSpan: number;
  private readonly refSpeedMps: number;
  private readonly refInteg: number;
  private readonly omegaOff: number;
  private readonly vOff: number;
  private readonly dancerOff: number;
  // scratch
  private readonly len: Float64Array;
  private readonly lenRate: Float64Array;
  private readonly q: Float64Array;
  private readonly tension: Float64Array;
  private readonly torque: Float64Array;
  private readonly cmd: Float64Array;

  constructor(
    readonly line: LineDescription,
    private readonly opts: WebPhysicsOptions = DEFAULT_WEB_PHYSICS,
  ) {
    const els = line.elements;
    this.nElements = els.length;
    this.nSpans = line.spans.length;
    this.ea = line.web.eaN;
    this.creepVelocityMps = line.traction.creepVelocityMps;
    this.slideSlope = line.traction.postLimitSlopeFraction;
    const index = new Map(els.map((e, i) => [e.name, i]));
    const spanIndex = new Map(line.spans.map((s, j) => [s.name, j]));
    this.radius = Float64Array.from(els, (e) => e.radiusM);
    this.inertia = Float64Array.from(els, (e) => e.inertiaKgM2);
    this.frictionNms = Float64Array.from(els, (e) => e.bearingFrictionNms);
    this.baseLength = Float64Array.from(line.spans, (s) => s.lengthM);
    this.spanIn = new Int32Array(els.length).fill(-1);
    this.spanOut = new Int32Array(els.length).fill(-1);
    this.spanFrom = new Int32Array(this.nSpans);
    line.spans.forEach((s, j) => {
      const from = index.get(s.from);
      const to = index.get(s.to);
      if (from === undefined || to !== from + 1) {
        throw new WebPlantError(
          `span ${s.name} does not join two consecutive elements`,
          'PLANT_UNREALISABLE',
        );
      }
      this.spanOut[from] = j;
      this.spanIn[to] = j;
      this.spanFrom[j] = from;
    });
    this.idlerSlot = new Int32Array(els.length).fill(-1);
    let nIdlers = 0;
    els.forEach((e, i) => {
      if (e.type === 'idler') this.idlerSlot[i] = nIdlers++;
    });
    this.ratio = Float64Array.from(els, (e) =>
      e.type === 'idler' ? idlerRatio(e) : Number.POSITIVE_INFINITY,
    );

    const control = controlOf(line);
    const speedDrives = control.drives.filter((d) => d.mode === 'speed');
    const ref = control.speedReference;
    this.refSpan = 'span' in ref ? (spanIndex.get(ref.span) ?? -1) : -1;
    this.refSpeedMps = ref.speedMps;
    if ('span' in ref && speedDrives.length === 0) {
      throw new WebPlantError(
        `the speed reference on span ${ref.span} needs a speed-mode drive to trim`,
        'PLANT_UNREALISABLE',
      );
    }
    let integ = 0;
    this.speedInteg = new Int32Array(els.length).fill(-1);
    const dancerIndex = new Map<string, number>();
    (control.dancers ?? []).forEach((d) => {
      dancerIndex.set(d.name, this.dancers.length);
      this.dancers.push(this.dancerOf(d, spanIndex, index));
    });
    for (const d of control.drives) {
      const drive = this.driveFrom(d, index, spanIndex, dancerIndex, speedDrives[0] === d, () => integ++);
      this.drives.push(drive);
      if (drive.kind !== 'winderTension') this.speedInteg[drive.element] = integ++;
    }
    this.refInteg = this.refSpan >= 0 ? integ++ : -1;
    this.omegaOff = this.nSpans;
    this.vOff = this.omegaOff + els.length;
    const ctrlOff = this.vOff + nIdlers;
    this.ctrlOff = ctrlOff;
    this.dancerOff = ctrlOff + integ;
    this.size = this.dancerOff + 2 * this.dancers.length;
    this.len = new Float64Array(this.nSpans);
    this.lenRate = new Float64Array(this.nSpans);
    this.q = new Float64Array(els.length);
    this.tension = new Float64Array(this.nSpans);
    this.torque = new Float64Array(els.length);
    this.cmd = new Float64Array(els.length);
  }

  private readonly ctrlOff: number;

  private dancerOf(d: DancerControl, spanIndex: Map<string, number>, index: Map<string, number>): Dancer {
    const legacy = this.line.dancer;
    const arm = {
      armLengthM: legacy?.armLengthM ?? this.opts.armLengthM,
      massKg: legacy?.massKg ?? this.opts.armMassKg,
      dampingNsPerM: mMax(legacy?.dampingNsPerM ?? 0, this.opts.armDampingNsPerM),
      degPerRel: d.angleDegPerRelativeSpeed || this.opts.dancerDegPerRelativeSpeed,
      setpointN: d.setpointN,
    };
    if (d.kind === 'span') return { ...arm, spans: [spanIndex.get(d.span) as number], weights: [1] };
    const roller = index.get(d.roller) as number;
    return {
      ...arm,
      spans: [this.spanIn[roller] as number, this.spanOut[roller] as number],
      weights: [d.weights.upstream, d.weights.downstream],
    };
  }

  private driveFrom(
    d: DriveControl,
    index: Map<string, number>,
    spanIndex: Map<string, number>,
    dancerIndex: Map<string, number>,
    isMaster: boolean,
    slot: () => number,
  ): Drive {
    const element = index.get(d.element) as number;
    switch (d.mode) {
      case 'speed':
        return { kind: 'speed', element, speedMps: d.speedMps, refTrim: isMaster && this.refSpan >= 0 };
      case 'draw':
        return { kind: 'draw', element, from: index.get(d.from) as number, ratio: 1 + d.draw };
      case 'dancer':
        return { kind: 'dancer', element, dancer: dancerIndex.get(d.dancer) as number };
      case 'tension': {
        const span = spanIndex.get(d.span) as number;
        // The span downstream of the drive: running faster slackens it; upstream: tightens it.
        const downstream = (this.spanFrom[span] as number) >= element;
        const el = this.line.elements[element] as LineElement;
        if (el.type === 'nip') {
          return {
            kind: 'nipTension',
            element,
            span,
            setpointN: d.setpointN,
            sign: downstream ? 1 : -1,
            integ: slot(),
          };
        }
        return {
          kind: 'winderTension',
          element,
          span,
          setpointN: d.setpointN,
          sign: downstream ? -1 : 1,
          integ: slot(),
        };
      }
    }
  }

  /**
   * A starting point to settle from: every span at the mean of the described tension setpoints, every
   * roller at the reference speed, controllers empty.
   */
  initialState(): Float64Array {
    const y = new Float64Array(this.size);
    const setpoints = this.drives.flatMap((d) =>
      d.kind === 'nipTension' || d.kind === 'winderTension' ? [d.setpointN] : [],
    );
    for (const dn of this.dancers) setpoints.push(dn.setpointN);
    const level = setpoints.length > 0 ? setpoints.reduce((a, b) => a + b, 0) / setpoints.length : 100;
    for (let j = 0; j < this.nSpans; j++) y[j] = level / this.ea;
    const v = this.refSpeedMps;
    for (let i = 0; i < this.nElements; i++) {
      y[this.omegaOff + i] = v / (this.radius[i] as number);
      const slot = this.idlerSlot[i] as number;
      if (slot >= 0) y[this.vOff + slot] = v;
    }
    return y;
  }

  readonly rhs = (_t: number, y: Float64Array, dy: Float64Array): void => {
    const nS = this.nSpans;
    const ea = this.ea;
    const len = this.len;
    const lenRate = this.lenRate;
    for (let j = 0; j < nS; j++) {
      len[j] = this.baseLength[j] as number;
      lenRate[j] = 0;
      this.tension[j] = ea * (y[j] as number);
    }
    for (let k = 0; k < this.dancers.length; k++) {
      const dn = this.dancers[k] as Dancer;
      const x = y[this.dancerOff + 2 * k] as number;
      const xd = y[this.dancerOff + 2 * k + 1] as number;
      let pull = 0;
      for (let s = 0; s < dn.spans.length; s++) {
        const j = dn.spans[s] as number;
        const w = dn.weights[s] as number;
        len[j] = (len[j] as number) + 2 * w * x;
        lenRate[j] = (lenRate[j] as number) + 2 * w * xd;
        pull += w * (this.tension[j] as number);
      }
      dy[this.dancerOff + 2 * k] = xd;
      dy[this.dancerOff + 2 * k + 1] = (2 * dn.setpointN - 2 * pull - dn.dampingNsPerM * xd) / dn.massKg;
    }
    // Web speed in the reference span (where it leaves it) and the reference trim.
    let refTrim = 0;
    if (this.refInteg >= 0) {
      const j = this.refSpan;
      const down = (this.spanFrom[j] as number) + 1;
      const vSpan = this.flowOf(y, down) * (1 + (y[j] as number));
      const e = (this.refSpeedMps - vSpan) / this.refSpeedMps;
      refTrim = REF_KP * e + (y[this.ctrlOff + this.refInteg] as number);
      dy[this.ctrlOff + this.refInteg] = REF_KI * e;
    }
    // Drives: speed commands and torques.
    for (const d of this.drives) {
      const i = d.element;
      const r = this.radius[i] as number;
      let vCmd = 0;
      switch (d.kind) {
        case 'speed':
          vCmd = d.speedMps * (1 + (d.refTrim ? refTrim : 0));
          break;
        case 'draw':
          vCmd = d.ratio * (y[this.omegaOff + d.from] as number) * (this.radius[d.from] as number);
          break;
        case 'dancer': {
          const dn = this.dancers[d.dancer] as Dancer;
          const theta = ((y[this.dancerOff + 2 * d.dancer] as number) / dn.armLengthM) * (180 / PI);
          vCmd = this.refSpeedMps * (1 - theta / dn.degPerRel);
          break;
        }
        case 'nipTension': {
          const e = (this.tension[d.span] as number) - d.setpointN;
          const trim = d.sign * (NIP_TENSION_KP * e + (y[this.ctrlOff + d.integ] as number));
          dy[this.ctrlOff + d.integ] = NIP_TENSION_KI * e;
          vCmd = this.refSpeedMps * (1 + trim);
          break;
        }
        case 'winderTension': {
          const e = d.setpointN - (this.tension[d.span] as number);
          dy[this.ctrlOff + d.integ] = WINDER_TENSION_KI * e;
          // PI on tension, with speed damping against the reference speed (its offset is taken up by the
          // integrator): a torque-controlled roll on a stiff web is otherwise an undamped oscillator.
          const surface = (y[this.omegaOff + i] as number) * r;
          this.torque[i] =
            d.sign * r * (d.setpointN + WINDER_TENSION_KP * e + (y[this.ctrlOff + d.integ] as number)) -
            WINDER_DAMPING_NS_PER_M * r * (surface - this.refSpeedMps);
          continue;
        }
      }
      this.cmd[i] = vCmd / r;
    }
    // Elements: roller dynamics (speed-loop torques of the speed-commanded drives), contact, flows.
    for (let i = 0; i < this.nElements; i++) {
      const jIn = this.spanIn[i] as number;
      const jOut = this.spanOut[i] as number;
      const tIn = jIn >= 0 ? (this.tension[jIn] as number) : 0;
      const tOut = jOut >= 0 ? (this.tension[jOut] as number) : 0;
      const w = y[this.omegaOff + i] as number;
      const r = this.radius[i] as number;
      const b = this.frictionNms[i] as number;
      const slot = this.idlerSlot[i] as number;
      if (slot >= 0) {
        const v = y[this.vOff + slot] as number;
        const f = this.contactForce(v - w * r, tIn, this.ratio[i] as number);
        dy[this.vOff + slot] = (tOut - tIn - f) / this.opts.contactMassKg;
        dy[this.omegaOff + i] = (r * f - b * w) / (this.inertia[i] as number);
      } else {
        const si = this.speedInteg[i] as number;
        if (si >= 0) {
          // PI on speed plus feed-forward of the web's load on the roll (load-torque compensation).
          const kp = SPEED_KP_PER_J * (this.inertia[i] as number);
          const err = (this.cmd[i] as number) - w;
          this.torque[i] = kp * err + (y[this.ctrlOff + si] as number) + r * (tIn - tOut);
          dy[this.ctrlOff + si] = kp * SPEED_KI_PER_KP * err;
        }
        dy[this.omegaOff + i] =
          ((this.torque[i] as number) + r * (tOut - tIn) - b * w) / (this.inertia[i] as number);
      }
      this.q[i] = this.flowOf(y, i);
    }
    for (let j = 0; j < nS; j++) {
      const e1 = 1 + (y[j] as number);
      const l = len[j] as number;
      const up = this.spanFrom[j] as number;
      dy[j] =
        (e1 * e1 * ((this.q[up + 1] as number) - (this.q[up] as number))) / l +
        (e1 * (lenRate[j] as number)) / l;
    }
  };

  /** Unstretched web flow through element i [m/s]. */
  private flowOf(y: Float64Array, i: number): number {
    const slot = this.idlerSlot[i] as number;
    if (slot >= 0) return (y[this.vOff + slot] as number) / (1 + (y[this.spanIn[i] as number] as number));
    const j = (this.spanIn[i] as number) >= 0 ? (this.spanIn[i] as number) : (this.spanOut[i] as number);
    return ((y[this.omegaOff + i] as number) * (this.radius[i] as number)) / (1 + (y[j] as number));
  }

  /**
   * The contact's force on the web, against the slip s = v_web − v_surface [N]: linear creep of slope
   * k = F_cap⁺/v_c, saturating at the capstan limit through a softplus-smoothed clamp (width 1/κ of the
   * limit), so creep stays linear almost up to the limit and gross slip carries the limit, plus the
   * sliding friction's rise with slip that the description gives (postLimitSlopeFraction × the creep slope).
   */
  private contactForce(s: number, tIn: number, ratio: number): number {
    const t = mMax(tIn, 1e-3);
    const capHold = t * (ratio - 1);
    const cap = s >= 0 ? capHold : t * (1 - 1 / ratio);
    const x = (capHold * s) / (this.creepVelocityMps * cap);
    return cap * smoothClamp(x) + this.slideSlope * capHold * (s / this.creepVelocityMps);
  }

  observe(y: Float64Array): WebObservation {
    const dy = new Float64Array(this.size);
    this.rhs(0, y, dy);
    const slip = new Float64Array(this.nElements);
    const torque = new Float64Array(this.nElements);
    for (let i = 0; i < this.nElements; i++) {
      const slot = this.idlerSlot[i] as number;
      if (slot >= 0)
        slip[i] =
          (y[this.vOff + slot] as number) - (y[this.omegaOff + i] as number) * (this.radius[i] as number);
      else torque[i] = this.torque[i] as number;
    }
    return {
      tensionN: Float64Array.from(this.tension),
      omega: y.slice(this.omegaOff, this.omegaOff + this.nElements),
      slipMps: slip,
      motorTorqueNm: torque,
      webSpeedMps: Float64Array.from(
        { length: this.nSpans },
        (_, j) => (this.q[(this.spanFrom[j] as number) + 1] as number) * (1 + (y[j] as number)),
      ),
      dancerAngleDeg: Float64Array.from(
        this.dancers,
        (dn, k) => ((y[this.dancerOff + 2 * k] as number) / dn.armLengthM) * (180 / PI),
      ),
    };
  }

  /** Largest rate of the physical states, scaled: tension [N/s], speed [rad/s²], web speed [m/s²]. */
  residual(y: Float64Array): number {
    const dy = new Float64Array(this.size);
    this.rhs(0, y, dy);
    let worst = 0;
    for (let j = 0; j < this.nSpans; j++) worst = mMax(worst, mAbs((dy[j] as number) * this.ea));
    for (let i = this.omegaOff; i < this.ctrlOff; i++) worst = mMax(worst, mAbs(dy[i] as number));
    for (let k = 0; k < this.dancers.length; k++)
      worst = mMax(worst, mAbs(dy[this.dancerOff + 2 * k] as number) * 1e3);
    return worst;
  }

  integrator(): Ros2Integrator {
    const absTol = new Float64Array(this.size).fill(1e-6);
    for (let j = 0; j < this.nSpans; j++) absTol[j] = 1e-9;
    for (let i = this.ctrlOff; i < this.dancerOff; i++) absTol[i] = 1e-7;
    return new Ros2Integrator(this.rhs, this.size, { relTol: 1e-6, absTol, maxStepS: 2 });
  }

  /**
   * Integrates until the line is at rest to `tolerance` (see residual) or `maxS` seconds have passed;
   * returns the simulated time it took. Throws PLANT_NOT_SETTLED when it did not settle.
   */
  settle(
    y: Float64Array,
    opts: { tolerance?: number; maxS?: number; chunkS?: number; integrator?: Ros2Integrator } = {},
  ): number {
    const tol = opts.tolerance ?? 1e-6;
    const maxS = opts.maxS ?? 2000;
    const chunk = opts.chunkS ?? 5;
    const integ = opts.integrator ?? this.integrator();
    let t = 0;
    while (t < maxS) {
      integ.integrate(y, t, t + chunk);
      t += chunk;
      if (this.residual(y) < tol) return t;
    }
    throw new WebPlantError(
      `the line did not settle in ${maxS} s (residual ${this.residual(y).toExponential(2)})`,
      'PLANT_NOT_SETTLED',
    );
  }
}

const CLAMP_SHARPNESS = 20;

function softplus(z: number): number {
  return z > 0 ? z + mLog1p(mExp(-z)) : mLog1p(mExp(z));
}

/** ≈ max(−1, min(1, x)), smooth: (softplus(κ(x+1)) − softplus(κ(x−1)))/κ − 1. */
function smoothClamp(x: number): number {
  const k = CLAMP_SHARPNESS;
  return (softplus(k * (x + 1)) - softplus(k * (x - 1))) / k - 1;
}

function idlerRatio(e: IdlerElement): number {
  return e.maxTensionRatio ?? mExp(e.frictionCoefficient * e.wrapAngleRad);
}
