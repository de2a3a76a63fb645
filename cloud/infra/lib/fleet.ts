/**
 * The fleet as deployed: each configured line's description loaded (a shipped id or a file), given its
 * line id, and checked. The same description, under the same id, goes to SiteWise (the asset models), to
 * the gateways (a component artifact) and to the job (an object in its store), so all three agree on the
 * line's signals.
 */
import { readFileSync } from 'node:fs';
import { STORE_LINE_PREFIX } from '../../calibration-job/job-config';
import { loadLineFrom } from '../../../platform/line-file';
import { LineDescriptionError } from '../../../twin/errors';
import {
  compileLineDescription,
  isShippedLine,
  shippedLineDescription,
  type LineTopology,
} from '../../../twin/lines/topology';
import { InfraConfigError, type FleetLineConfig } from './config';
import { deployedUkfModel, type DeployedUkfModel } from './fleet-ukf-model';

export interface DeployedLine {
  readonly lineId: string;
  readonly thingName: string;
  /** The description's own id, before `lineId` replaced it (lines of one description share a model). */
  readonly descriptionId: string;
  /** Compiled from `description`: its `line.id` is `lineId`. */
  readonly topology: LineTopology;
  /** The description as deployed (JSON text, id = lineId). */
  readonly descriptionJson: string;
  /** The FMU and map of the job's FMU-model UKF reference, checked against the line (fleet-ukf-model.ts). */
  readonly ukfModel?: DeployedUkfModel;
}

/** The job's object key of a line's description, relative to the job's store prefix. */
export const jobLineKey = (lineId: string): string => `lines/${lineId}.json`;

/** What the job's fleet entry says for `line`. */
export const jobLineRef = (lineId: string): string => `${STORE_LINE_PREFIX}${jobLineKey(lineId)}`;

/** The artifact file name of a line's description in the ingest component. */
export const lineArtifactFile = (lineId: string): string => `line-${lineId}.json`;

function loadOne(entry: FleetLineConfig, i: number): DeployedLine {
  const key = `fleet/${i}/line`;
  try {
    const original = loadLineFrom(entry.line);
    const lineId = entry.lineId ?? original.line.id;
    const raw = isShippedLine(entry.line)
      ? shippedLineDescription(entry.line)
      : (JSON.parse(readFileSync(entry.line, 'utf8')) as unknown);
    const descriptionJson = `${JSON.stringify({ ...(raw as object), id: lineId }, null, 2)}\n`;
    const topology = compileLineDescription(descriptionJson);
    return { lineId, thingName: entry.thingName, descriptionId: original.line.id, topology, descriptionJson };
  } catch (cause) {
    if (!(cause instanceof LineDescriptionError)) throw cause;
    throw new InfraConfigError('INFRA_LINE_INVALID', key, `'${entry.line}': ${cause.message}`, { cause });
  }
}

function withUkfModel(line: DeployedLine, entry: FleetLineConfig, i: number): DeployedLine {
  if (entry.ukfModel === undefined) return line;
  return { ...line, ukfModel: deployedUkfModel(entry.ukfModel, `fleet/${i}/ukfModel`, line.topology) };
}

/** Every fleet line loaded; line ids must be unique (they key SiteWise aliases, topics and job records). */
export function deployedFleet(fleet: readonly FleetLineConfig[]): DeployedLine[] {
  const lines = fleet.map((entry, i) => withUkfModel(loadOne(entry, i), entry, i));
  const seen = new Map<string, number>();
  lines.forEach((l, i) => {
    const first = seen.get(l.lineId);
    if (first !== undefined)
      throw new InfraConfigError(
        'INFRA_LINE_INVALID',
        `fleet/${i}`,
        `line id '${l.lineId}' is also fleet/${first}'s: give each line its own lineId`,
      );
    seen.set(l.lineId, i);
  });
  return lines;
}
