/**
 * Line descriptions by id or by file: the I/O half of twin/lines/topology.ts (the pure core compiles
 * descriptions and holds the shipped lines; reading a file happens here, at the program's edge).
 */
import { readFileSync } from 'node:fs';
import { LineDescriptionError } from '../twin/errors';
import {
  REFERENCE_LINE_ID,
  SHIPPED_LINE_IDS,
  compileLineDescription,
  isShippedLine,
  loadLine,
  type LineTopology,
} from '../twin/lines/topology';

/** Whether `idOrPath` names a description file rather than a shipped line: it has a '/' or ends in '.json'. */
export function isLineFilePath(idOrPath: string): boolean {
  return idOrPath.includes('/') || idOrPath.endsWith('.json');
}

/**
 * A shipped line by id (the reference line by default), or a line description file by path (anything
 * with a '/' or ending in '.json'). An unknown id or an unreadable file is LINE_UNREADABLE; a file that
 * is not a valid description is LINE_INVALID (with the JSON path).
 */
export function loadLineFrom(idOrPath: string = REFERENCE_LINE_ID): LineTopology {
  if (isShippedLine(idOrPath)) return loadLine(idOrPath);
  if (!isLineFilePath(idOrPath)) {
    throw new LineDescriptionError(
      '',
      `unknown line '${idOrPath}' (shipped: ${SHIPPED_LINE_IDS.join(', ')}; or give a path to a .json file)`,
      { code: 'LINE_UNREADABLE' },
    );
  }
  let text: string;
  try {
    text = readFileSync(idOrPath, 'utf8');
  } catch (cause) {
    throw new LineDescriptionError('', `cannot read '${idOrPath}' (${(cause as Error).message})`, {
      cause,
      code: 'LINE_UNREADABLE',
    });
  }
  return compileLineDescription(text);
}
