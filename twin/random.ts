import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

/**
 * A seeded random source, injected wherever randomness is needed (the core never touches Math.random).
 * Backed by pure-rand's xoroshiro128+; its state can be saved and restored for savepoints.
 */
const WARM_UP_DRAWS = 64;

/** Everything a SeededRandom's future draws depend on (JSON-serialisable, for savepoints). */
export interface RandomState {
  generator: number[];
  /** The second normal of the last polar-method pair, not yet returned. */
  spareNormal: number | null;
}

export class SeededRandom {
  private rng: JumpableRandomGenerator;
  private spareNormal: number | undefined;

  constructor(seed: number) {
    this.rng = xoroshiro128plus(seed);
    // xoroshiro128+ seeded from a small integer starts out nearly linear in the seed (seeds 1, 2, 3 give
    // almost the same first draws); discard a warm-up so neighbouring seeds give unrelated streams.
    for (let i = 0; i < WARM_UP_DRAWS; i++) this.rng.next();
  }

  /** A source that continues exactly where the one that gave `state` was. */
  static fromState(state: RandomState): SeededRandom {
    const r = new SeededRandom(0);
    r.rng = xoroshiro128plusFromState(state.generator);
    r.spareNormal = state.spareNormal ?? undefined;
    return r;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return uniformFloat64(this.rng);
  }

  /** Uniform in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Standard normal (Marsaglia polar method, the spare value is kept). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const v = this.spareNormal;
      this.spareNormal = undefined;
      return v;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const f = Math.sqrt((-2 * Math.log(s)) / s);
        this.spareNormal = v * f;
        return u * f;
      }
    }
  }

  /** An independent stream derived from this one (for per-sensor or per-scenario streams). */
  fork(): SeededRandom {
    const child = new SeededRandom(0);
    child.rng = this.rng.clone();
    child.rng.jump();
    this.rng.jump();
    this.rng.jump();
    return child;
  }

  state(): RandomState {
    return { generator: [...this.rng.getState()], spareNormal: this.spareNormal ?? null };
  }
}
