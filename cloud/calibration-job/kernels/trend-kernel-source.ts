/**
 * The ONE source of the recalibration's member-likelihood kernel, as a plain JavaScript string.
 *
 * Why a string: gpu.js parses the kernel's source text (Function.prototype.toString) and translates it to
 * WebAssembly, WGSL or plain JS. A TypeScript function would reach it only after ts-jest, tsx or esbuild
 * rewrote it (helpers injected for coverage, renamed locals, downlevelled syntax), so what gpu.js sees
 * would depend on the toolchain. A string is the same text under every one of them.
 *
 * One thread per member (output [N]). Per bin it solves the reduced model's steady state under the line's
 * control structure (twin/model/line-steady-state.ts, for any line: the structure is data in the
 * constants, trend-constants.ts) for the member at the bin's time and accumulates Σ_c w_bc (ȳ_bc − h_c)²
 * on the fly, returning −½ q. The steps, as in the reference:
 *  1. the speed reference's zone is solved repeatedly (at most `fixPasses` times) until the mass flow it
 *     implies stops changing in float32: c = v_ref·(1 − T_ref/EA), T_ref the tension of the span that
 *     runs at the reference speed;
 *  2. every zone is solved once more with that mass flow and scored: each zone's first tension is found
 *     by secant shooting (tolerance SHIFT_TOL, at most `maxSecant` steps) so that its pin holds — one form
 *     for all pins: wA·T[spanA] + wB·T[spanB] = target (a tension loop's span: wB = 0; a dancer roller:
 *     its two spans and weights; mass flow into a drive of set speed: the zone's last span with the
 *     target EA·(1 − ρ) + ρ·T_ref, ρ = v_ref,described / v_set,described and EA·(1 − ρ) a float64 constant,
 *     so the kernel's float32 never subtracts two numbers near EA) — then re-run once, shifted by the
 *     residual, to score its spans and idlers;
 *  3. the driven elements' speeds (set speed or the mass flow's web speed at their loop's setpoint) and
 *     the dancer angle are scored.
 * Float32 reformulations (the reference is float64):
 *  - each idler is solved, by a safeguarded Newton on the same root as the reference, for its slip
 *    u = s/v_c in creep (v − ω·R is a tiny difference of numbers near 1 there) and for its own surface
 *    speed ω·R/v_c in gross slip (there v/v_c − u would cancel when the roller nearly stops), whichever
 *    regime its linearisation starts in, stopping (after that last step) when the step is below 1e-6 of
 *    the variable or the residual is at float32's rounding level of its terms;
 *  - the traction law is the line's: tanh (`law` 0) or the sharp linear-with-cap law (`law` 1,
 *    g = u·(1 + |u|^p)^(−1/p), written through 1/|u| beyond |u| = 1 so that |u|^p cannot overflow);
 *  - speeds are predicted as deviations from a nominal ω0_c (channelNominal in trend-constants.ts): the web
 *    speed's deviation at tension t is Δv_ref + v_ref·(t − T_ref)/EA/(1 − t/EA), so no two numbers near 1
 *    are subtracted; the caller passes ȳ − ω0 (in float64), so a residual of 1e-4 rad/s on 20 rad/s keeps
 *    its digits;
 *  - q is summed with Kahan compensation and returned as a pair [hi, lo] (q = hi + lo, formed in float64
 *    by the caller), because an f32 output alone cannot resolve ln L ~ 1e5 to better than 0.01.
 * The constant arrays are packed into one `table` (offsets at_<name>): WebGPU allows 8 storage buffers
 * per shader stage by default, and gpu.js binds every array constant as one. Every loop bound is a
 * constant (gpu.js caps argument-bound loops at 1000). No recursion, no local arrays.
 *
 * The member's traction scale multiplies every capacity and its EA (relative to the description) every
 * strain: 1/EA and the mass-flow pins' EA·(1 − ρ) scale with it (clamped as the reduced model clamps them).
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

/** Keeps the tension t of span `span` where the pin (atA, atB) and the speed reference (tAtRef) read it. */
const capture = (span: string): string =>
  `if (${span} == pinSpanA) {
            atA = t;
          }
          if (${span} == pinSpanB) {
            atB = t;
          }
          if (${span} == refSpan) {
            tAtRef = t;
          }`;

/** `const ${name} = this.constants.table[at_${name} + ${index}]`. */
const entry = (name: string, index: string): string =>
  `const ${name} = this.constants.table[this.constants.at_${name} + ${index}];`;

export const TREND_KERNEL_SOURCE = `function trendKernel(thetas, mean, weight, u) {
  const id = this.thread.x;
  const m = this.constants.channels;
  const lineOff = this.constants.lineOffset;
  const tractionScale = Math.exp(Math.min(Math.max(thetas[id][lineOff], this.constants.lnTractionMin), this.constants.lnTractionMax));
  const eaScale = Math.exp(Math.min(Math.max(thetas[id][lineOff + 1], this.constants.lnEaRelativeMin), this.constants.lnEaRelativeMax));
  const invEa = this.constants.invEa / eaScale;
  const vc = this.constants.creepVelocity;
  const kSlope = this.constants.postLimitSlope;
  const pLaw = this.constants.sharpness;
  const lnOff = this.constants.lnOffset;
  const trOff = this.constants.trendOffset;
  const nZones = this.constants.zones;
  const fixPasses = this.constants.fixPasses;
  const refZone = this.constants.refZone;
  const refSpan = this.constants.refSpan;
  const pinFirst = Math.max(this.constants.firstPinSetpoint + thetas[id][0], 0.001);
  const pinLast = Math.max(this.constants.lastPinSetpoint + thetas[id][1], 0.001);
  const refSpeed = Math.max(this.constants.refSetpoint + thetas[id][2], 0.000001);
  let dRef = thetas[id][2];
  if (refSpeed <= 0.000001) {
    dRef = refSpeed - this.constants.refSetpoint;
  }
  let q = 0.0;
  let comp = 0.0;
  for (let bin = 0; bin < this.constants.bins; bin++) {
    const ub = u[bin];
    const row = bin * m;
    let tRef = this.constants.refTensionGuess;
    if (this.constants.refPinnedByLoop == 1) {
      if (refZone == 0) {
        tRef = pinFirst;
      } else if (refZone == nZones - 1) {
        tRef = pinLast;
      }
    }
    let c = refSpeed * (1.0 - tRef * invEa);
    let settled = 0;
    for (let zs = 0; zs < this.constants.zoneSteps; zs++) {
      let z = zs - fixPasses;
      let scoring = 1;
      if (zs < fixPasses) {
        z = refZone;
        scoring = 0;
      }
      if (scoring == 1 || settled == 0) {
        ${entry('zoneStart', 'z')}
        ${entry('zoneLength', 'z')}
        ${entry('pinKind', 'z')}
        ${entry('pinSpanA', 'z')}
        ${entry('pinSpanB', 'z')}
        ${entry('pinWeightA', 'z')}
        ${entry('pinWeightB', 'z')}
        let target = this.constants.table[this.constants.at_pinSetpoint + z];
        if (pinKind == 1) {
          target = this.constants.table[this.constants.at_zoneEaOneMinusRho + z] * eaScale + this.constants.table[this.constants.at_zoneRho + z] * tRef;
        } else if (z == 0) {
          target = pinFirst;
        } else if (z == nZones - 1) {
          target = pinLast;
        }
        let guess = 0.0;
        for (let k = 1; k < this.constants.maxZoneLength; k++) {
          if (k < zoneLength) {
            const e = zoneStart + k;
            ${entry('idlerSlot', 'e')}
            ${entry('radius', 'e')}
            const lnb = Math.min(Math.max(thetas[id][lnOff + idlerSlot] + thetas[id][trOff + idlerSlot] * ub, -30.0), 5.0);
            let wt = 0.0;
            if (e <= pinSpanA) {
              wt = wt + pinWeightA;
            }
            if (e <= pinSpanB) {
              wt = wt + pinWeightB;
            }
            guess = guess + (wt * Math.exp(lnb) * c) / (radius * radius);
          }
        }
        let tStart = target - guess;
        let t0 = 0.0;
        let e0 = 0.0;
        let shift = 0.0;
        let tAtRef = 0.0;
        let lastPass = 0;
        let bLo = -1e31;
        let bHi = 1e31;
        for (let it = 0; it < this.constants.maxPasses; it++) {
          let t = tStart;
          let atA = 0.0;
          let atB = 0.0;
          ${capture('zoneStart')}
          if (lastPass == 1) {
            ${score('spanChan', 'zoneStart', '(t - shift)')}
          }
          for (let k = 1; k < this.constants.maxZoneLength; k++) {
            if (k < zoneLength) {
              const e = zoneStart + k;
              ${entry('idlerSlot', 'e')}
              ${entry('radius', 'e')}
              ${entry('capacity', 'e')}
              const lnb = Math.min(Math.max(thetas[id][lnOff + idlerSlot] + thetas[id][trOff + idlerSlot] * ub, -30.0), 5.0);
              const b = Math.exp(lnb);
              const den = 1.0 - t * invEa;
              const v = c / den;
              // ω at the shifted (final) tension, as the reference: shift is 0 until the zone is solved.
              const dv = dRef + (refSpeed * (t - shift - tRef) * invEa) / (1.0 - (t - shift) * invEa);
              const limit = Math.max(t, 0.0) * capacity * tractionScale;
              let omegaDev = -this.constants.refSetpoint / radius;
              let rise = 0.0;
              if (limit > 0.0) {
                // Newton on x: the slip u = s/vc in creep; in gross slip the roller's own surface speed
                // w = ωR/vc (v/vc − u would cancel in float32 when the roller nearly stops). Both residuals
                // increase in x and share the derivative limit·g'(u) + a·vc.
                const a = b / (radius * radius);
                const vOverVc = v / vc;
                let x = (a * v) / (limit * (1.0 + kSlope) + a * vc);
                let gross = 0;
                if (a * (v - x * vc) > limit) {
                  gross = 1;
                  x = (limit * (1.0 + kSlope * vOverVc)) / (a * vc + limit * kSlope);
                }
                let lo = 0.0;
                let hi = vOverVc;
                if (!(x > lo && x < hi)) {
                  x = 0.5 * (lo + hi);
                }
                for (let nt = 0; nt < this.constants.newtonSteps; nt++) {
                  let su = x;
                  if (gross == 1) {
                    su = vOverVc - x;
                  }
                  let gs = 0.0;
                  let dgs = 0.0;
                  if (this.constants.law == 0) {
                    const ex = Math.exp(-2.0 * Math.abs(su));
                    let th = (1.0 - ex) / (1.0 + ex);
                    if (su < 0.0) {
                      th = -th;
                    }
                    gs = th + kSlope * su;
                    dgs = 1.0 - th * th + kSlope;
                  } else {
                    const au = Math.abs(su);
                    let root = 0.0;
                    if (au < 1.0) {
                      root = Math.pow(1.0 + Math.pow(au, pLaw), -1.0 / pLaw);
                    } else {
                      const ia = 1.0 / au;
                      root = ia * Math.pow(1.0 + Math.pow(ia, pLaw), -1.0 / pLaw);
                    }
                    gs = su * root + kSlope * su;
                    dgs = Math.pow(root, pLaw + 1.0) + kSlope;
                  }
                  let g = limit * gs - a * (v - x * vc);
                  if (gross == 1) {
                    g = a * vc * x - limit * gs;
                  }
                  if (g > 0.0) {
                    hi = x;
                  } else {
                    lo = x;
                  }
                  const dg = limit * dgs + a * vc;
                  const stepN = g / dg;
                  if (
                    Math.abs(stepN) <= this.constants.newtonTol * Math.abs(x) ||
                    Math.abs(g) <= this.constants.newtonResidualTol * (limit * (1.0 + kSlope * su) + a * v)
                  ) {
                    x = x - stepN;
                    break;
                  }
                  const next = x - stepN;
                  if (next > lo && next < hi) {
                    x = next;
                  } else {
                    x = 0.5 * (lo + hi);
                  }
                }
                if (gross == 1) {
                  omegaDev = (x * vc - this.constants.refSetpoint) / radius;
                  rise = a * vc * x;
                } else {
                  omegaDev = (dv - x * vc) / radius;
                  rise = a * (v - x * vc);
                }
              }
              t = t + rise;
              ${capture('e')}
              if (lastPass == 1) {
                ${score('elemChan', 'e', 'omegaDev')}
                ${score('spanChan', 'e', '(t - shift)')}
              }
            }
          }
          if (lastPass == 1) {
            break;
          }
          const err = pinWeightA * atA + pinWeightB * atB - target;
          // The residual increases with the first tension: keep the bracket, bisect a step that leaves it.
          if (err < 0.0) {
            bLo = Math.max(bLo, tStart);
          } else {
            bHi = Math.min(bHi, tStart);
          }
          let done = 0;
          if (Math.abs(err) <= this.constants.shiftTol || it >= this.constants.maxSecant) {
            done = 1;
          } else if (it == 0) {
            t0 = tStart;
            e0 = err;
            tStart = tStart - err;
          } else {
            const slope = (err - e0) / (tStart - t0);
            t0 = tStart;
            e0 = err;
            let denom = 1.0;
            if (slope > 0.05 && slope < 1e30) {
              denom = slope;
            }
            tStart = tStart - err / denom;
          }
          if (done == 0 && !(tStart > bLo && tStart < bHi) && bLo > -1e30 && bHi < 1e30) {
            tStart = 0.5 * (bLo + bHi);
          }
          if (done == 1) {
            shift = err;
            if (scoring == 1) {
              lastPass = 1;
            } else {
              break;
            }
          }
        }
        if (scoring == 0) {
          const tNext = tAtRef - shift;
          const cNext = refSpeed * (1.0 - tNext * invEa);
          if (Math.abs(cNext - c) <= this.constants.massFlowTol * Math.abs(c) || zs + 1 >= fixPasses) {
            settled = 1;
          }
          tRef = tNext;
          c = cNext;
        }
      }
    }
    for (let e = 0; e < this.constants.elements; e++) {
      ${entry('driveKind', 'e')}
      if (driveKind > 0) {
        ${entry('radius', 'e')}
        let surfaceDev = this.constants.table[this.constants.at_driveSetRatio + e] * dRef;
        if (driveKind == 2) {
          const tSet = this.constants.table[this.constants.at_driveTension + e];
          surfaceDev = dRef + (refSpeed * (tSet - tRef) * invEa) / (1.0 - tSet * invEa);
        }
        ${score('elemChan', 'e', 'surfaceDev / radius')}
      }
    }
    let angle = this.constants.angleConstant;
    if (this.constants.angleKind == 2) {
      const tSet = this.constants.angleTension;
      angle = (this.constants.angleGain * (tRef - tSet) * invEa) / (1.0 - tSet * invEa);
    }
    for (let j = 0; j < this.constants.angleChannels; j++) {
      const ch = this.constants.table[this.constants.at_angleChan + j];
      if (ch >= 0) {
        const w = weight[row + ch];
        if (w > 0.0) {
          const res = mean[row + ch] - angle;
          ${kahan('w * res * res')}
        }
      }
    }
  }
  const qHi = Math.fround(q);
  return [qHi, q - qHi - comp];
}`;
