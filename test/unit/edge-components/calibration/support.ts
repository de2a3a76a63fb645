/** An in-memory DeviceShadow (AWS semantics: merge, delta = desired keys that differ from reported). */
import type {
  DeviceShadow,
  JsonObject,
  JsonValue,
  ShadowDocument,
  Subscription,
} from '../../../../edge-components/runtime/contract';

type DeltaHandler = (delta: JsonObject, version: number) => void;

export class MemoryShadow implements DeviceShadow {
  private readonly docs = new Map<string, { desired: JsonObject; reported: JsonObject; version: number }>();
  private readonly handlers = new Map<string, Set<DeltaHandler>>();
  /** Every reported state written, in order, per shadow. */
  readonly reports: { name: string; reported: JsonObject }[] = [];
  failReports = false;

  async get(shadowName: string): Promise<ShadowDocument | undefined> {
    const d = this.docs.get(shadowName);
    if (d === undefined) return undefined;
    const delta = computeDelta(d.desired, d.reported);
    return {
      state: {
        desired: structuredClone(d.desired),
        reported: structuredClone(d.reported),
        ...(delta ? { delta } : {}),
      },
      version: d.version,
    };
  }

  async updateReported(shadowName: string, reported: JsonObject): Promise<void> {
    if (this.failReports) throw new Error('shadow service unreachable');
    const d = this.doc(shadowName);
    d.reported = merge(d.reported, reported);
    d.version += 1;
    this.reports.push({ name: shadowName, reported: structuredClone(reported) });
  }

  async onDelta(shadowName: string, handler: DeltaHandler): Promise<Subscription> {
    const set = this.handlers.get(shadowName) ?? new Set();
    set.add(handler);
    this.handlers.set(shadowName, set);
    return { close: async () => void set.delete(handler) };
  }

  /** What the cloud does: merge into desired, then deliver the delta to subscribers. */
  setDesired(shadowName: string, desired: JsonObject): void {
    const d = this.doc(shadowName);
    d.desired = merge(d.desired, desired);
    d.version += 1;
    const delta = computeDelta(d.desired, d.reported);
    if (delta) for (const h of this.handlers.get(shadowName) ?? []) h(structuredClone(delta), d.version);
  }

  reported(shadowName: string): JsonObject {
    return structuredClone(this.doc(shadowName).reported);
  }

  private doc(name: string) {
    let d = this.docs.get(name);
    if (d === undefined) {
      d = { desired: {}, reported: {}, version: 0 };
      this.docs.set(name, d);
    }
    return d;
  }
}

const isObj = (v: JsonValue | undefined): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Shadow merge: objects merge recursively, null deletes a key, anything else replaces. */
function merge(into: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...into };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isObj(v) && isObj(out[k])) out[k] = merge(out[k] as JsonObject, v);
    else out[k] = structuredClone(v);
  }
  return out;
}

function computeDelta(desired: JsonObject, reported: JsonObject): JsonObject | undefined {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(desired)) {
    const r = reported[k];
    if (isObj(v) && isObj(r)) {
      const inner = computeDelta(v, r);
      if (inner) out[k] = inner;
    } else if (JSON.stringify(v) !== JSON.stringify(r)) {
      out[k] = v;
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
