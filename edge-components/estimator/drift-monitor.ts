/**
 * Drift alarm of one line, with hysteresis: the model "stops explaining the data" when, for
 * `raiseAfterUpdates` consecutive updates, either the innovation score (windowed median NIS/dof) is above
 * `nisScoreRaise` or some bearing friction is confidently (`frictionConfidence`) above `frictionFactor` ×
 * its calibrated 95 % quantile. It clears only after `clearAfterUpdates` consecutive updates with the score
 * below `nisScoreClear` and every such probability below `frictionClearProbability` — the gap between the
 * raise and clear levels is what keeps a borderline line from flapping.
 */
export interface DriftSettings {
  nisScoreRaise: number;
  nisScoreClear: number;
  frictionFactor: number;
  frictionConfidence: number;
  frictionClearProbability: number;
  raiseAfterUpdates: number;
  clearAfterUpdates: number;
}

export interface FrictionEvidence {
  parameter: string;
  roller: string;
  /** P(b > frictionFactor × calibrated p95) under the estimator's posterior. */
  pAbove: number;
  estimateNms: number;
  calibratedP95Nms: number;
  /**
   * Rollers whose friction the line's sensors cannot tell from this one's (empty where they can): the
   * wear may be at any of them. Filled where pAbove reaches the raise confidence.
   */
  indistinguishableFrom: string[];
}

export interface DriftEvidence {
  innovationScore: number;
  frictions: readonly FrictionEvidence[];
}

export type DriftReason = 'innovation' | 'friction';

export interface DriftTransition {
  state: 'raised' | 'cleared';
  reasons: DriftReason[];
  /** Rollers whose friction is confidently outside the calibrated interval (raised), or was (cleared). */
  rollers: FrictionEvidence[];
  innovationScore: number;
}

export class DriftMonitor {
  private active = false;
  private raiseRun = 0;
  private clearRun = 0;
  private lastRollers: FrictionEvidence[] = [];

  constructor(private readonly settings: DriftSettings) {}

  get raised(): boolean {
    return this.active;
  }

  /** Feed one update's evidence; returns the transition it causes, if any. */
  update(evidence: DriftEvidence): DriftTransition | undefined {
    const s = this.settings;
    const outside = evidence.frictions.filter((f) => f.pAbove >= s.frictionConfidence);
    const reasons: DriftReason[] = [];
    if (evidence.innovationScore > s.nisScoreRaise) reasons.push('innovation');
    if (outside.length > 0) reasons.push('friction');
    const quiet =
      evidence.innovationScore < s.nisScoreClear &&
      evidence.frictions.every((f) => f.pAbove < s.frictionClearProbability);

    if (!this.active) {
      this.raiseRun = reasons.length > 0 ? this.raiseRun + 1 : 0;
      if (this.raiseRun < s.raiseAfterUpdates) return undefined;
      this.active = true;
      this.raiseRun = 0;
      this.clearRun = 0;
      this.lastRollers = outside;
      return { state: 'raised', reasons, rollers: outside, innovationScore: evidence.innovationScore };
    }
    if (outside.length > 0) this.lastRollers = outside;
    this.clearRun = quiet ? this.clearRun + 1 : 0;
    if (this.clearRun < s.clearAfterUpdates) return undefined;
    this.active = false;
    this.clearRun = 0;
    const rollers = this.lastRollers;
    this.lastRollers = [];
    return { state: 'cleared', reasons: [], rollers, innovationScore: evidence.innovationScore };
  }

  /** Forget the run counts (new parameters: the evidence so far was against the old ones). */
  resetRuns(): void {
    this.raiseRun = 0;
    this.clearRun = 0;
  }
}
