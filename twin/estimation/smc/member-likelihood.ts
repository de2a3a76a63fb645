/**
 * The member-evaluation seam of the cloud recalibration: a batch of N parameter vectors in, N
 * log-likelihoods out. The SMC sampler only ever calls `evaluate`, so a gpu.js kernel (float32, one
 * thread per member; cloud/calibration-job/kernels) replaces the plain-TypeScript reference
 * (trend-likelihood.ts) without touching the sampler; every reduction over members (weights, ESS,
 * resampling, moments) stays in float64 on the CPU.
 */
export interface MemberLikelihood {
  /** Parameters per member. */
  readonly dimTheta: number;
  readonly thetaNames: readonly string[];
  /** What evaluated the members: `typescript-reference`, or the gpu.js kernel class that ran. */
  readonly backend: string;
  /**
   * θ-dependent part of ln p(window | θ_i) for every member: thetas N×dimTheta row-major, out N; −∞
   * allowed (never NaN). The θ-independent constant is the window's (BinnedWindow.constant). May be
   * asynchronous (a GPU backend returns a promise).
   */
  evaluate(thetas: Float64Array, out: Float64Array): void | Promise<void>;
  /** Releases backend resources (kernels, devices); optional. */
  dispose?(): void;
}
