import { LineDescriptionError } from '../../twin/errors';
import type { LineTopology } from '../../twin/lines/topology';
import { ConfigError } from '../../platform/config';
import { loadLineFrom } from '../../platform/line-file';

/** The lines a component's `lines` setting names (shipped ids or files); a bad one is a ConfigError. */
export function loadConfiguredLines(lines: readonly string[]): LineTopology[] {
  return lines.map((idOrPath, i) => {
    try {
      return loadLineFrom(idOrPath);
    } catch (cause) {
      if (!(cause instanceof LineDescriptionError)) throw cause;
      throw new ConfigError(`lines/${i}`, cause.message, { cause });
    }
  });
}
