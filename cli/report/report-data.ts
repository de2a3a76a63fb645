/**
 * What the demo's report (`demo-output/report.html`) and the live dashboard (`selfcal dashboard`) plot:
 * one JSON document, built by the demo from its run or by the dashboard server from SiteWise history.
 * Times are epoch seconds. Series may be empty (a dashboard knows no truth; an edge that does not write a
 * parameter has no edge band); a chart with an empty series says so instead of drawing nothing.
 */
export interface SeriesPoint {
  t: number;
  v: number;
}

/** A value with an interval: the mean and the band [lo, hi] (±σ, or the 5 %/95 % quantiles). */
export interface BandPoint {
  t: number;
  mean: number;
  lo: number;
  hi: number;
}

export interface ReportData {
  title: string;
  lineId: string;
  /** ISO-8601 instant the data was assembled. */
  generatedAt: string;
  /** Per load cell: its readings, and the edge's virtual sensor of the same span with ±σ. */
  tensions: { signal: string; virtualName: string; measured: SeriesPoint[]; virtual: BandPoint[] }[];
  /** Per bearing friction b: the cloud's posteriors and the edge's (each mean, 5 %/95 %), the truth. */
  frictions: {
    parameter: string;
    roller: string;
    cloud: BandPoint[];
    edge: BandPoint[];
    truth: SeriesPoint[];
  }[];
  /** Per roller: its health code over time (0 healthy, 1 suspect, 2 degraded, 3 unknown; twin/properties). */
  health: { roller: string; points: SeriesPoint[] }[];
  /** Readings waiting in the edge outbox for SiteWise. */
  backlog: SeriesPoint[];
  /** Key figures shown as a table (readings produced/ingested/published/lost, manifests, …). */
  summary: Record<string, string | number>;
}
