/**
 * A fleet line's FMU as the model of the job's second UKF reference (context `fleet[i].ukfModel`,
 * docs/fmi.md "The FMU as the model"), as deployed: the .fmu and its variable map read once at synth and
 * checked as far as synth can without loading the FMU's native code — both readable files, the .fmu a zip
 * archive (its signature) of at most MAX_DEPLOYED_FMU_BYTES, the map valid and fitting the line (every
 * idler's friction a mapped parameter, one of its sensors a mapped output). The bytes checked are the
 * bytes deployed, to the job's store at `fmus/<lineId>.fmu` and `fmus/<lineId>-map.json`; the job's fleet
 * entry names them `store:`. What only loading the FMU tells (its model description, a binary for the
 * job's platform) the job reports as the result's `diagnostics.fmuUkfFailure`.
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkFmuModelFitsLine } from '../../calibration-job/fmu-ukf-reference';
import { STORE_LINE_PREFIX, type FleetUkfModel } from '../../calibration-job/job-config';
import { parseVariableMap } from '../../../platform/fmi/variable-map';
import { SelfcalError } from '../../../twin/errors';
import type { LineTopology } from '../../../twin/lines/topology';
import { InfraConfigError, type FleetUkfModelConfig } from './config';

/** The largest .fmu a deployment takes (CDK's deployment function stages it; the job reads it whole). */
export const MAX_DEPLOYED_FMU_BYTES = 256 * 1024 * 1024;
/** The largest variable map (a few KiB in practice). */
export const MAX_DEPLOYED_MAP_BYTES = 1024 * 1024;
/** Every zip archive (and so every .fmu) starts with a local file header. */
const ZIP_SIGNATURE = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

export interface DeployedUkfModel {
  /** The .fmu's bytes, as checked. */
  readonly fmu: Buffer;
  /** The variable map's text, as checked. */
  readonly mapJson: string;
  readonly batchMinutes?: number;
}

/** The job's object keys of a line's FMU and map, relative to the job's store prefix. */
export const jobFmuKey = (lineId: string): string => `fmus/${lineId}.fmu`;
export const jobFmuMapKey = (lineId: string): string => `fmus/${lineId}-map.json`;

/** What the job's fleet entry says for the line's `ukfModel`. */
export function jobUkfModelRef(lineId: string, model: DeployedUkfModel): FleetUkfModel {
  return {
    fmu: `${STORE_LINE_PREFIX}${jobFmuKey(lineId)}`,
    map: `${STORE_LINE_PREFIX}${jobFmuMapKey(lineId)}`,
    ...(model.batchMinutes === undefined ? {} : { batchMinutes: model.batchMinutes }),
  };
}

const refused = (key: string, problem: string, cause?: unknown) =>
  new InfraConfigError('INFRA_UKF_MODEL_INVALID', key, problem, cause === undefined ? {} : { cause });

/** A regular file's bytes, at most `maxBytes`; `key` names the setting in errors. */
function readSetFile(path: string, key: string, maxBytes: number): Buffer {
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw refused(key, `'${path}' is not a file`);
    size = stat.size;
  } catch (cause) {
    if (cause instanceof InfraConfigError) throw cause;
    throw refused(key, `cannot read '${path}' (${(cause as Error).message})`, cause);
  }
  if (size > maxBytes) throw refused(key, `'${path}' is ${size} bytes; at most ${maxBytes} are deployed`);
  try {
    return readFileSync(path);
  } catch (cause) {
    throw refused(key, `cannot read '${path}' (${(cause as Error).message})`, cause);
  }
}

function checkedMap(path: string, key: string, topology: LineTopology): string {
  const text = readSetFile(path, key, MAX_DEPLOYED_MAP_BYTES).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw refused(key, `'${path}' is not JSON (${(cause as Error).message})`, cause);
  }
  try {
    checkFmuModelFitsLine(topology, parseVariableMap(value, path));
  } catch (cause) {
    if (!(cause instanceof SelfcalError)) throw cause;
    throw refused(key, `${cause.code}: ${cause.message}`, cause);
  }
  return text;
}

/**
 * The line's FMU model read and checked (`key`: its context key, `fleet/<i>/ukfModel`); the map first,
 * so that a map for another line is named before anything about the FMU.
 */
export function deployedUkfModel(
  config: FleetUkfModelConfig,
  key: string,
  topology: LineTopology,
): DeployedUkfModel {
  const mapJson = checkedMap(config.map, `${key}/map`, topology);
  const fmu = readSetFile(config.fmu, `${key}/fmu`, MAX_DEPLOYED_FMU_BYTES);
  if (fmu.length < ZIP_SIGNATURE.length || !fmu.subarray(0, ZIP_SIGNATURE.length).equals(ZIP_SIGNATURE))
    throw refused(`${key}/fmu`, `'${config.fmu}' is not a zip archive: an .fmu is one (FMI 2.0)`);
  return {
    fmu,
    mapJson,
    ...(config.batchMinutes === undefined ? {} : { batchMinutes: config.batchMinutes }),
  };
}

/** The most FMU and map bytes a fleet deploys (CDK's deployment function holds them twice: zip and files). */
export const MAX_FLEET_UKF_MODEL_BYTES = 1536 * 1024 * 1024;
/** The deployment function's /tmp for them: twice the most, and room to spare. */
export const UKF_MODEL_DEPLOYMENT_STORAGE_MIB = 4096;

/**
 * Writes the fleet's FMUs and maps into `dir` under their job keys (the folder emptied first: a file of
 * an earlier synth into the same cloud assembly must not ride along), for a BucketDeployment of `dir`.
 * Returns the keys written; none where no line has a model.
 */
export function stageJobUkfModels(
  dir: string,
  lines: readonly { lineId: string; ukfModel?: DeployedUkfModel }[],
): string[] {
  const withModel = lines.flatMap((l) => (l.ukfModel ? [{ lineId: l.lineId, model: l.ukfModel }] : []));
  const total = withModel.reduce((n, l) => n + l.model.fmu.length + Buffer.byteLength(l.model.mapJson), 0);
  if (total > MAX_FLEET_UKF_MODEL_BYTES)
    throw refused(
      'fleet',
      `the fleet's FMUs and maps are ${total} bytes, over the ${MAX_FLEET_UKF_MODEL_BYTES} one deployment copies; deploy the fleet as several stacks (prefix)`,
    );
  rmSync(dir, { recursive: true, force: true });
  const keys: string[] = [];
  for (const { lineId, model } of withModel) {
    const files: [string, Buffer | string][] = [
      [jobFmuKey(lineId), model.fmu],
      [jobFmuMapKey(lineId), model.mapJson],
    ];
    for (const [key, body] of files) {
      mkdirSync(dirname(join(dir, key)), { recursive: true });
      writeFileSync(join(dir, key), body);
      keys.push(key);
    }
  }
  return keys;
}
