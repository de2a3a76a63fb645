/**
 * The ONE source of the recalibration's member-likelihood kernel, as a plain JavaScript string.
 *
 * Why a string: gpu.js parses the kernel's source text (Function.prototype.toString) and translates it to
 * WebAssembly, WGSL or plain JS. A TypeScript function would reach it only after ts-jest, tsx or esbuild
 * rewrote it (helpers injected for coverage, renamed locals, downlevelled syntax), so what gpu.js sees
 * would depend on the toolchain. A string is the same text under every one of them.
 *
 * One thread per member (output [N]). Per bin b it solves the reduced model's steady state
 * (twin/model/steady-state.ts) for the member at the bin's time and accumulates Σ_c w_bc (ȳ_bc − h_c)²
 * on the fly, returning −½ q. Float32 reformulations (the reference is float64):
 *  - mass flow as c = v·(1 − T/EA) (web speed at tension T is c / (1 − T/EA));
 *  - the tension a mass-flow-pinned zone ends at, EA·(1 − ρ) + ρ·T_end0, ρ = r_first/r_end: the f64
 *    constant EA·(1 − ρ) carries the draw, so nothing cancels (EA − C/v would lose 0.03 N);
 *  - each idler is solved for its slip u = s/v_c rather than for ω (v − ω·R is a tiny difference
 *    of numbers near 1 in creep), by the same safeguarded Newton on the same root, stopping (after that
 *    last step) when the step is below 1e-6·u or the residual is at float32's rounding level of its
 *    terms (1e-6 of them: in f32 the reference's 1e-12 step test never fires, and further iterations
 *    would only chase rounding noise — this cut the webasm kernel's Newton iterations ~10×);
 *  - the first zone's fixed point on c stops when c no longer changes in float32 (at most FIX_PASSES),
 *    later zones keep the reference's secant (tolerance SHIFT_TOL, at most 40 steps) and shift.
 * The constant arrays are packed into one `table` (offsets at_<name>): WebGPU allows 8 storage buffers
 * per shader stage by default, and gpu.js binds every array constant as one.
 * Every loop bound is a constant (gpu.js caps argument-bound loops at 1000); the zone loop runs each
 * zone's passes and ends with one "output" pass that re-runs the converged pass and scores its channels
 * (the model's channel lookups are constant arrays: spanChan / elemChan, K slots per location, −1 = none;
 * zeroChan lists the channels whose prediction is 0, the dancer angle). No recursion, no local arrays.
 *
 *  - angular speeds are predicted as deviations from a nominal ω0_c = v1_setpoint/R (channelNominal in
 *    trend-constants.ts), with the web speed's deviation written so that no two numbers near 1 are
 *    subtracted; the caller passes ȳ − ω0 (in float64), so a residual of 1e-4 rad/s on 20 rad/s keeps its
 *    digits (an f32 ω carries 2e-6 rad/s of rounding, which at the speed channels' weights would cost ~1 in ln L);
 *  - q is summed with Kahan compensation and returned as a pair [hi, lo] (q = hi + lo, formed in float64
 *    by the caller), because an f32 output alone cannot resolve ln L ~ 1e5 to better than 0.01 (on the
 *    cpu backend, which computes in f64, lo carries what the f32 output would round away).
 *
 * Arguments: thetas (input(Float32Array, [d, N])), mean (ȳ − ω0) and weight (B×m, bin-major), u (B).
 * Result per member: [hi, lo], q = hi + lo, ln L = −q/2.
 */

/** Adds `term` to the Kahan sum (q, comp). */
const kahan = (term: string): string =>
  `const kTerm = ${term};
          const kY = kTerm - comp;
          const kT = q + kY;
          comp = kT - q - kY;
          q = kT;`;

/** Scores prediction `h` against every channel of `table` at location `loc` (K slots, −1 = none). */
const score = (table: string, loc: string, h: string): string =>
  `for (let j = 0; j < this.constants.perLocation; j++) {
          const ch = this.constants.table[this.constants.at_${table} + ${loc} * this.constants.perLocation + j];
          if (ch >= 0) {
            const w = weight[row + ch];
            if (w > 0.0) {
              const res = mean[row + ch] - ${h};
              ${kahan('w * res * res')}
            }
          }
        }`;

export const TREND_KERNEL_SOURCE = `function trendKernel(thetas, mean, weight, u) {
  const id = this.thread.x;
  const m = this.constants.channels;
  const invEa = this.constants.invEa;
  const vc = this.constants.creepVelocity;
  const kSlope = this.constants.postLimitSlope;
  const lnOff = this.constants.lnOffset;
  const trOff = this.constants.trendOffset;
  const tUnwind = Math.max(this.constants.unwindSetpoint + thetas[id][0], 0.001);
  const tRewind = Math.max(this.constants.rewindSetpoint + thetas[id][1], 0.001);
  const vMaster = Math.max(this.constants.masterSetpoint + thetas[id][2], 0.000001);
  let dMaster = thetas[id][2];
  if (vMaster <= 0.000001) {
    dMaster = vMaster - this.constants.masterSetpoint;
  }
  const v1 = vMaster * this.constants.firstNipRatio;
  const dv1 = dMaster * this.constants.firstNipRatio;
  let q = 0.0;
  let comp = 0.0;
  for (let bin = 0; bin < this.constants.bins; bin++) {
    const ub = u[bin];
    const row = bin * m;
    let c = v1;
    let tEnd0 = 0.0;
    for (let z = 0; z < this.constants.zones; z++) {
      const start = this.constants.table[this.constants.at_zoneStart + z];
      const len = this.constants.table[this.constants.at_zoneLength + z];
      const kind = this.constants.table[this.constants.at_zoneKind + z];
      let target = tRewind;
      if (kind == 1) {
        target = this.constants.table[this.constants.at_zoneEaOneMinusRho + z] + this.constants.table[this.constants.at_zoneRho + z] * tEnd0;
      }
      let guessSpeed = c;
      let guess = 0.0;
      for (let k = 1; k < this.constants.maxZoneLength; k++) {
        if (k < len) {
          const e = start + k;
          const slot = this.constants.table[this.constants.at_idlerSlot + e];
          const lnb = Math.min(Math.max(thetas[id][lnOff + slot] + thetas[id][trOff + slot] * ub, -30.0), 5.0);
          const r = this.constants.table[this.constants.at_radius + e];
          guess = guess + (Math.exp(lnb) * guessSpeed) / (r * r);
        }
      }
      let tStart = tUnwind;
      if (z == 0) {
        c = v1 * (1.0 - (tUnwind + guess) * invEa);
      } else {
        tStart = target - guess;
      }
      let output = 0;
      let shift = 0.0;
      let t0 = 0.0;
      let e0 = 0.0;
      for (let it = 0; it < this.constants.maxPasses; it++) {
        let t = tStart;
        if (output == 1) {
          ${score('spanChan', 'start', '(t - shift)')}
        }
        for (let k = 1; k < this.constants.maxZoneLength; k++) {
          if (k < len) {
            const e = start + k;
            const slot = this.constants.table[this.constants.at_idlerSlot + e];
            const lnb = Math.min(Math.max(thetas[id][lnOff + slot] + thetas[id][trOff + slot] * ub, -30.0), 5.0);
            const b = Math.exp(lnb);
            const r = this.constants.table[this.constants.at_radius + e];
            const v = c / (1.0 - t * invEa);
            const limit = Math.max(t, 0.0) * this.constants.table[this.constants.at_capstan + e];
            const dv = dv1 + (v1 * (t - tEnd0) * invEa) / (1.0 - t * invEa);
            let omegaDev = -this.constants.v1Setpoint / r;
            let rise = 0.0;
            if (limit > 0.0) {
              const a = b / (r * r);
              let lo = 0.0;
              let hi = v / vc;
              let s = (a * v) / (limit * (1.0 + kSlope) + a * vc);
              if (!(s > lo && s < hi)) {
                s = 0.5 * (lo + hi);
              }
              for (let nt = 0; nt < this.constants.newtonSteps; nt++) {
                const ex = Math.exp(-2.0 * Math.abs(s));
                let th = (1.0 - ex) / (1.0 + ex);
                if (s < 0.0) {
                  th = -th;
                }
                const g = limit * (th + kSlope * s) - a * (v - s * vc);
                if (g > 0.0) {
                  hi = s;
                } else {
                  lo = s;
                }
                const dg = limit * (1.0 - th * th + kSlope) + a * vc;
                const step = g / dg;
                if (
                  Math.abs(step) <= this.constants.newtonTol * Math.abs(s) ||
                  Math.abs(g) <= this.constants.newtonResidualTol * (limit * (1.0 + kSlope * s) + a * v)
                ) {
                  s = s - step;
                  break;
                }
                const next = s - step;
                if (next > lo && next < hi) {
                  s = next;
                } else {
                  s = 0.5 * (lo + hi);
                }
              }
              const webOverRoller = v - s * vc;
              omegaDev = (dv - s * vc) / r;
              rise = a * webOverRoller;
            }
            t = t + rise;
            if (output == 1) {
              ${score('elemChan', 'e', 'omegaDev')}
              ${score('spanChan', 'e', '(t - shift)')}
            }
          }
        }
        if (output == 1) {
          break;
        }
        if (z == 0) {
          const cNext = v1 * (1.0 - t * invEa);
          if (Math.abs(cNext - c) <= this.constants.massFlowTol * Math.abs(c) || it + 2 >= this.constants.fixPasses) {
            output = 1;
          }
          c = cNext;
          tEnd0 = t;
        } else {
          const err = t - target;
          if (it == 0) {
            t0 = tStart;
            e0 = err;
            if (Math.abs(err) <= this.constants.shiftTol) {
              output = 1;
              shift = err;
            } else {
              tStart = tStart - err;
            }
          } else {
            const slope = (err - e0) / (tStart - t0);
            t0 = tStart;
            e0 = err;
            if (Math.abs(err) <= this.constants.shiftTol || it >= this.constants.maxSecant) {
              output = 1;
              shift = err;
            } else {
              let denom = 1.0;
              if (slope > 0.05 && slope < 1e30) {
                denom = slope;
              }
              tStart = tStart - err / denom;
            }
          }
        }
      }
      let endOmega = dv1 / this.constants.table[this.constants.at_radius + start + len];
      if (z > 0) {
        endOmega = (dv1 + (v1 * (target - tEnd0) * invEa) / (1.0 - target * invEa)) / this.constants.table[this.constants.at_radius + start + len];
      }
      ${score('elemChan', '(start + len)', 'endOmega')}
      if (z == 0) {
        ${score('elemChan', 'start', '(dv1 - v1 * tEnd0 * invEa) / this.constants.table[this.constants.at_radius + start]')}
      }
    }
    for (let j = 0; j < this.constants.zeroChannels; j++) {
      const ch = this.constants.table[this.constants.at_zeroChan + j];
      if (ch >= 0) {
        const w = weight[row + ch];
        if (w > 0.0) {
          const res = mean[row + ch];
          ${kahan('w * res * res')}
        }
      }
    }
  }
  const qHi = Math.fround(q);
  return [qHi, q - qHi - comp];
}`;
