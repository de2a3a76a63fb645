import { PUT_ENTRIES_PER_CALL, PUT_VALUES_PER_ENTRY } from '../../platform/sitewise/limits';
import type { StoredReading } from '../store/contract';

export interface PendingEntry {
  alias: string;
  readings: StoredReading[];
}

/**
 * Group readings by property alias (keeping outbox order inside each alias) and cut them into calls of
 * at most 10 entries × 10 values. Two entries of one call never share an alias, so a retry of one
 * entry cannot reorder values of the same property. Entries are taken round-robin over the aliases
 * (the first entry of every alias, then the second, …) so that a call holds up to 10 different
 * properties; filling calls alias after alias would give one entry per call.
 */
export function planCalls(
  readings: readonly StoredReading[],
  aliasFor: (r: StoredReading) => string,
): PendingEntry[][] {
  const byAlias = new Map<string, StoredReading[]>();
  for (const r of readings) {
    const alias = aliasFor(r);
    const list = byAlias.get(alias);
    if (list) list.push(r);
    else byAlias.set(alias, [r]);
  }
  const perAlias: PendingEntry[][] = [];
  for (const [alias, list] of byAlias) {
    const entries: PendingEntry[] = [];
    for (let i = 0; i < list.length; i += PUT_VALUES_PER_ENTRY)
      entries.push({ alias, readings: list.slice(i, i + PUT_VALUES_PER_ENTRY) });
    perAlias.push(entries);
  }
  const rounds = perAlias.reduce((m, e) => Math.max(m, e.length), 0);
  const calls: PendingEntry[][] = [];
  let current: PendingEntry[] = [];
  let aliases = new Set<string>();
  for (let round = 0; round < rounds; round++) {
    for (const entries of perAlias) {
      const e = entries[round];
      if (!e) continue;
      if (current.length === PUT_ENTRIES_PER_CALL || aliases.has(e.alias)) {
        calls.push(current);
        current = [];
        aliases = new Set();
      }
      current.push(e);
      aliases.add(e.alias);
    }
  }
  if (current.length > 0) calls.push(current);
  return calls;
}
