/**
 * What a line writes to SiteWise, from its description: one measurement property per signal the edge or
 * the job writes (twin/properties.ts `lineProperties`, the catalogue the publisher, the estimator and the
 * job spell their names from), each with its unit, grouped by what it is. Every written property is a
 * measurement: SiteWise accepts BatchPutAssetPropertyValue only into measurements. sitewise-hierarchy.ts
 * places each on the line's asset or one of its child assets.
 */
import { EA_PARAMETER, MU_SCALE_PARAMETER } from '../../../twin/calibration/bounds';
import type { LineTopology } from '../../../twin/lines/topology';
import type { SensorKind } from '../../../twin/lines/types';
import { PROPERTY_SUFFIX, lineProperties } from '../../../twin/properties';

/** measured: a sensor's reading; virtual: an estimator's virtual sensor (or its σ); parameter: the job's
 * posterior; health: roller health and sensor status codes; fit: the line fit and per-signal residuals. */
export type PropertyGroup = 'measured' | 'virtual' | 'parameter' | 'health' | 'fit';

export interface ModelProperty {
  /** The catalogue name, or (in a model of per-element assets) the name of its role, e.g. `b`. */
  readonly name: string;
  readonly group: PropertyGroup;
  /** Free text, as SiteWise shows it; undefined for codes and dimensionless scores. */
  readonly unit: string | undefined;
  /** Who writes it: the gateway (publisher: readings, estimator) and/or the calibration job. */
  readonly writers: readonly ('edge' | 'job')[];
}

const KIND_UNITS: Readonly<Record<SensorKind, string>> = {
  angularSpeed: 'rad/s',
  tension: 'N',
  dancerAngle: 'deg',
};

const FRICTION_UNIT = 'N·m·s/rad';

function stripSuffix(name: string, ...suffixes: string[]): string {
  for (const s of suffixes) if (name.endsWith(s)) return name.slice(0, -s.length);
  return name;
}

function classify(
  name: string,
  topology: LineTopology,
  measured: ReadonlySet<string>,
): Pick<ModelProperty, 'group' | 'unit'> {
  if (measured.has(name)) {
    const sensor = topology.line.sensors.find((s) => s.signal === name);
    return { group: 'measured', unit: sensor ? KIND_UNITS[sensor.kind] : undefined };
  }
  if (name.endsWith(PROPERTY_SUFFIX.health) || name.endsWith(PROPERTY_SUFFIX.sensorStatus))
    return { group: 'health', unit: undefined };
  const base = stripSuffix(name, PROPERTY_SUFFIX.std);
  if (base.endsWith('_virtual')) {
    return {
      group: 'virtual',
      unit: base.includes('_Tension_N') ? 'N' : base.includes('_mps') ? 'm/s' : undefined,
    };
  }
  // The edge's friction posterior (`b4_edge`, `_p05`, `_p95`) is a parameter estimate like the job's.
  const parameter = stripSuffix(
    stripSuffix(name, PROPERTY_SUFFIX.std, PROPERTY_SUFFIX.p05, PROPERTY_SUFFIX.p95),
    PROPERTY_SUFFIX.edge,
  );
  if (topology.frictionParameterNames.includes(parameter)) return { group: 'parameter', unit: FRICTION_UNIT };
  if (parameter === EA_PARAMETER) return { group: 'parameter', unit: 'N' };
  if (parameter === MU_SCALE_PARAMETER) return { group: 'parameter', unit: undefined };
  return { group: 'fit', unit: undefined };
}

/**
 * Every property the line writes, each once, in the catalogue's order (measured, then what the edge
 * writes, then what the job writes).
 */
export function catalogueProperties(topology: LineTopology): ModelProperty[] {
  const catalogue = lineProperties(topology);
  const measured = new Set(catalogue.measured);
  const writers = new Map<string, Set<'edge' | 'job'>>();
  const add = (names: readonly string[], writer: 'edge' | 'job') => {
    for (const n of names) {
      if (!writers.has(n)) writers.set(n, new Set());
      writers.get(n)!.add(writer);
    }
  };
  add(catalogue.measured, 'edge');
  add(catalogue.edge, 'edge');
  add(catalogue.cloud, 'job');
  return [...writers].map(([name, by]) => ({
    name,
    ...classify(name, topology, measured),
    writers: [...by],
  }));
}

/** The property whose values the publisher-lag alarm watches: the line's first measured signal. */
export function lagProbeProperty(topology: LineTopology): string {
  const first = topology.line.sensors[0];
  if (!first) throw new Error(`line ${topology.line.id} has no sensors`);
  return first.signal;
}
