/**
 * A line in SiteWise as a hierarchy of assets: the line asset (line-level properties) with a child asset
 * per idler roller, per span and per driven element (nip, winder) that carries a property, each of a
 * model of its kind. Per-element properties are named by their role in the element's model (`b`,
 * `health`, `Tension_N_virtual`), so the models stay the same size however many rollers and spans a
 * line has: a bigger line has more child assets, not more properties per model. Every property keeps
 * the alias of its catalogue name (twin/properties.ts), which is what the publisher and the job address.
 */
import { EA_PARAMETER, MU_SCALE_PARAMETER } from '../../../twin/calibration/bounds';
import { rollerPropertyPrefix, type LineTopology } from '../../../twin/lines/topology';
import type { IdlerElement, SensorDescription, SensorKind } from '../../../twin/lines/types';
import {
  INNOVATION_SCORE_SIGNAL,
  LINE_FIT_PROPERTIES,
  PROPERTY_SUFFIX,
  edgeFrictionProperties,
  healthProperty,
} from '../../../twin/properties';
import { catalogueProperties, type ModelProperty } from './sitewise-model';

/** line: the line itself; roller: an idler; span: the web between two elements; drive: a nip or winder. */
export type AssetKind = 'line' | 'roller' | 'span' | 'drive';
export type ChildKind = Exclude<AssetKind, 'line'>;
export const CHILD_KINDS: readonly ChildKind[] = ['roller', 'span', 'drive'];

/** The line model's hierarchy (its logical id and name) through which the children of a kind hang. */
export const HIERARCHY_OF: Readonly<Record<ChildKind, string>> = {
  roller: 'Rollers',
  span: 'Spans',
  drive: 'Drives',
};

/** One property of an asset: its name in the asset's model, and the catalogue name its alias spells. */
export interface PlacedProperty {
  readonly name: string;
  readonly signal: string;
}

export interface AssetSpec {
  readonly kind: AssetKind;
  /** The element or span it stands for (undefined for the line). */
  readonly element: string | undefined;
  readonly properties: readonly PlacedProperty[];
}

export interface ModelSpec {
  readonly kind: AssetKind;
  /** Its properties by role, each once, units and writers taken from the catalogue. */
  readonly properties: readonly ModelProperty[];
}

export interface LineHierarchy {
  /** The line model first, then the model of each child kind the line has assets of. */
  readonly models: readonly ModelSpec[];
  readonly line: AssetSpec;
  /** In web order: rollers, spans, drives. */
  readonly children: readonly AssetSpec[];
}

type Roles = [signal: string, role: string][];

const SENSOR_DERIVED = [
  PROPERTY_SUFFIX.sensorStatus,
  PROPERTY_SUFFIX.residualZ,
  PROPERTY_SUFFIX.residualRms,
  PROPERTY_SUFFIX.suspect,
];
const LOAD_CELL_DERIVED = [PROPERTY_SUFFIX.gainSuspect, PROPERTY_SUFFIX.gainEstimate];

/** The role of a placed sensor's reading in its element's model: by kind, numbered from the second on. */
const SENSOR_ROLE: Readonly<Record<SensorKind, string>> = {
  angularSpeed: 'w',
  tension: 'Tension_N',
  dancerAngle: 'DancerAngle_deg',
};

/** A sensor's reading and what the edge and the job derive from it, under `base` and its suffixes. */
function sensorRoles(sensor: SensorDescription, base: string): Roles {
  const suffixes = [...SENSOR_DERIVED, ...(sensor.kind === 'tension' ? LOAD_CELL_DERIVED : [])];
  return [
    [sensor.signal, base],
    ...suffixes.map((s): [string, string] => [`${sensor.signal}${s}`, `${base}${s}`]),
  ];
}

const withSpread = (name: string, role: string): Roles =>
  ['', PROPERTY_SUFFIX.std, PROPERTY_SUFFIX.p05, PROPERTY_SUFFIX.p95].map((s) => [
    `${name}${s}`,
    `${role}${s}`,
  ]);

function rollerRoles(topology: LineTopology, slot: number): Roles {
  const idler = topology.elements[topology.idlers[slot] as number] as IdlerElement;
  const b = topology.frictionParameterNames[slot] as string;
  const slip = `${rollerPropertyPrefix(idler.name)}_SlipVelocity_mps_virtual`;
  const edge = edgeFrictionProperties(b);
  return [
    [slip, 'SlipVelocity_mps_virtual'],
    [`${slip}${PROPERTY_SUFFIX.std}`, `SlipVelocity_mps_virtual${PROPERTY_SUFFIX.std}`],
    [healthProperty(idler.name), 'health'],
    ...withSpread(b, 'b'),
    [edge.mean, 'b_edge'],
    [edge.p05, `b_edge${PROPERTY_SUFFIX.p05}`],
    [edge.p95, `b_edge${PROPERTY_SUFFIX.p95}`],
  ];
}

function spanRoles(span: string): Roles {
  const v = `${span}_Tension_N_virtual`;
  return [
    [v, 'Tension_N_virtual'],
    [`${v}${PROPERTY_SUFFIX.std}`, `Tension_N_virtual${PROPERTY_SUFFIX.std}`],
  ];
}

function lineRoles(): Roles {
  const own = (n: string): [string, string] => [n, n];
  return [
    own(INNOVATION_SCORE_SIGNAL),
    ...withSpread(MU_SCALE_PARAMETER, MU_SCALE_PARAMETER),
    ...withSpread(EA_PARAMETER, EA_PARAMETER),
    ...Object.values(LINE_FIT_PROPERTIES).map(own),
  ];
}

interface Draft {
  kind: AssetKind;
  element?: string;
  roles: Roles;
}

/** Every asset of the line with its roles, before sensors (keyed `line`, `element:<name>`, `span:<name>`). */
function skeleton(topology: LineTopology): Map<string, Draft> {
  const assets = new Map<string, Draft>();
  assets.set('line', { kind: 'line', roles: lineRoles() });
  topology.idlers.forEach((e, slot) => {
    const name = (topology.elements[e] as IdlerElement).name;
    assets.set(`element:${name}`, { kind: 'roller', element: name, roles: rollerRoles(topology, slot) });
  });
  for (const s of topology.spanNames)
    assets.set(`span:${s}`, { kind: 'span', element: s, roles: spanRoles(s) });
  return assets;
}

/** Sensors go to the element or span they are at (a driven element gets an asset for them), or the line. */
function placeSensors(topology: LineTopology, assets: Map<string, Draft>): void {
  const seen = new Map<string, number>();
  for (const sensor of topology.line.sensors) {
    if (sensor.kind === 'dancerAngle' || sensor.at === undefined) {
      assets.get('line')!.roles.push(...sensorRoles(sensor, sensor.signal));
      continue;
    }
    const key = sensor.kind === 'tension' ? `span:${sensor.at}` : `element:${sensor.at}`;
    if (!assets.has(key)) assets.set(key, { kind: 'drive', element: sensor.at, roles: [] });
    const n = (seen.get(`${key}/${sensor.kind}`) ?? 0) + 1;
    seen.set(`${key}/${sensor.kind}`, n);
    const base = n === 1 ? SENSOR_ROLE[sensor.kind] : `${SENSOR_ROLE[sensor.kind]}_${n}`;
    assets.get(key)!.roles.push(...sensorRoles(sensor, base));
  }
}

/**
 * The line's assets and models. Every catalogue name is placed on exactly one asset; a name the catalogue
 * writes that no rule here places (the catalogue grew) is an error, not a silent line-level property.
 */
export function lineHierarchy(topology: LineTopology): LineHierarchy {
  const assets = skeleton(topology);
  placeSensors(topology, assets);
  const catalogue = new Map(catalogueProperties(topology).map((p) => [p.name, p]));
  const placed = new Set<string>();
  const specs: AssetSpec[] = [];
  for (const a of assets.values()) {
    const properties = a.roles
      .filter(([signal]) => catalogue.has(signal))
      .map(([signal, name]) => ({ name, signal }));
    for (const p of properties) {
      if (placed.has(p.signal)) throw new Error(`SiteWise hierarchy: '${p.signal}' placed twice`);
      placed.add(p.signal);
    }
    if (a.kind === 'line' || properties.length > 0)
      specs.push({ kind: a.kind, element: a.element, properties });
  }
  const unplaced = [...catalogue.keys()].filter((n) => !placed.has(n));
  if (unplaced.length > 0)
    throw new Error(
      `SiteWise hierarchy of ${topology.line.id}: no asset for ${unplaced.join(', ')} (twin/properties.ts ` +
        'writes them): place them in cloud/infra/lib/sitewise-hierarchy.ts',
    );
  const byKind = (k: AssetKind) => specs.filter((s) => s.kind === k);
  const kinds = (['line', ...CHILD_KINDS] as const).filter((k) => byKind(k).length > 0);
  return {
    models: kinds.map((kind) => ({ kind, properties: modelProperties(byKind(kind), catalogue) })),
    line: byKind('line')[0] as AssetSpec,
    children: CHILD_KINDS.flatMap(byKind),
  };
}

/** A model's properties: the roles of its assets in first-seen order, unit and group of the first. */
function modelProperties(
  assets: readonly AssetSpec[],
  catalogue: ReadonlyMap<string, ModelProperty>,
): ModelProperty[] {
  const roles = new Map<string, ModelProperty>();
  for (const a of assets)
    for (const p of a.properties) {
      const entry = catalogue.get(p.signal) as ModelProperty;
      const known = roles.get(p.name);
      const writers = [...new Set([...(known?.writers ?? []), ...entry.writers])];
      roles.set(p.name, { ...(known ?? entry), name: p.name, writers });
    }
  return [...roles.values()];
}
