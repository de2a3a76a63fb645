/** Variable references in FMU log messages. Pure. */
import type { ModelDescription, VariableType } from './model-description';

const TYPE_LETTERS: Record<string, VariableType> = { r: 'Real', i: 'Integer', b: 'Boolean', s: 'String' };

/**
 * FMI 2.0 logger messages may name variables as `#<type letter><value reference>#` (e.g. `#r12#`);
 * they become the variable's name, and `##` becomes `#`. Unknown references stay as they are.
 */
export function resolveReferences(message: string, description: ModelDescription): string {
  return message.replace(
    /#([rRiIbBsS])(\d{1,10})#|##/g,
    (whole, letter: string | undefined, vr: string | undefined) => {
      if (letter === undefined || vr === undefined) return '#';
      const type = TYPE_LETTERS[letter.toLowerCase()];
      const ref = Number(vr);
      const v = description.variables.find(
        (x) =>
          x.valueReference === ref && (x.type === type || (type === 'Integer' && x.type === 'Enumeration')),
      );
      return v ? v.name : whole;
    },
  );
}
