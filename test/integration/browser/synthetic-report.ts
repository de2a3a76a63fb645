/**
 * A synthetic ReportData shaped like the demo's: two load cells with their virtual sensors, three
 * bearings (R4 degrading, so its chart is highlighted), health codes, an outbox backlog with an outage,
 * and a summary. Deterministic (no randomness): smooth curves plus a fixed ripple.
 */
import type { BandPoint, ReportData, SeriesPoint } from '../../../cli/report/report-data';

const T0 = 1_780_000_000;
const STEP_S = 600;
const N = 144; // one day in 10-minute samples

const times = (every = 1) => Array.from({ length: Math.ceil(N / every) }, (_, i) => T0 + i * every * STEP_S);
const ripple = (i: number) => Math.sin(i * 1.7) * 0.6 + Math.sin(i * 0.31) * 0.3;

function tension(base: number, drift: number): { measured: SeriesPoint[]; virtual: BandPoint[] } {
  const measured = times().map((t, i) => ({ t, v: base + drift * (i / N) + ripple(i) }));
  const virtual = times().map((t, i) => {
    const mean = base + drift * (i / N);
    return { t, mean, lo: mean - 0.8, hi: mean + 0.8 };
  });
  return { measured, virtual };
}

/** b over the day: healthy at `b0`, or growing log-linearly to `b1` from 1/3 of the run. */
function friction(b0: number, b1: number): { cloud: BandPoint[]; edge: BandPoint[]; truth: SeriesPoint[] } {
  const at = (i: number) => (i < N / 3 ? b0 : b0 * Math.pow(b1 / b0, Math.min(1, (i - N / 3) / (N / 4))));
  const truth = times().map((t, i) => ({ t, v: at(i) }));
  const edge = times().map((t, i) => ({ t, mean: at(i) * 1.05, lo: at(i) * 0.8, hi: at(i) * 1.3 }));
  const cloud = times(12).map((t, k) => ({
    t,
    mean: at(k * 12),
    lo: at(k * 12) * 0.85,
    hi: at(k * 12) * 1.2,
  }));
  return { cloud, edge, truth };
}

export function syntheticReportData(): ReportData {
  const healthOf = (degrading: boolean): SeriesPoint[] =>
    times(6).map((t, k) => ({ t, v: !degrading ? 0 : k * 6 < N / 2 ? 0 : k * 6 < (2 * N) / 3 ? 1 : 2 }));
  return {
    title: 'selfcal demo — reference-web-line, R4 degrading </script><script>alert(1)</script>',
    lineId: 'reference-web-line',
    generatedAt: '2026-06-01T00:00:00.000Z',
    tensions: [
      { signal: 'S5_Tension_N', virtualName: 'S5_Tension_N_virtual', ...tension(120, -4) },
      { signal: 'S8_Tension_N', virtualName: 'S8_Tension_N_virtual', ...tension(150, 6) },
    ],
    frictions: [
      { parameter: 'b3', roller: 'R3', ...friction(1e-4, 1e-4) },
      { parameter: 'b4', roller: 'R4', ...friction(1e-4, 0.3) },
      { parameter: 'b5', roller: 'R5', ...friction(1.2e-4, 1.2e-4) },
    ],
    health: [
      { roller: 'R3', points: healthOf(false) },
      { roller: 'R4', points: healthOf(true) },
      { roller: 'R5', points: healthOf(false) },
    ],
    backlog: times().map((t, i) => ({
      t,
      v: i >= 40 && i < 60 ? (i - 40) * 30 : i >= 60 && i < 70 ? (70 - i) * 60 : 0,
    })),
    summary: {
      'readings produced': 144,
      'readings published': 144,
      'readings lost': 0,
      'manifests applied': 2,
      note: 'a </script> in the data stays data',
    },
  };
}
