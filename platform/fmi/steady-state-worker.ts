/**
 * A worker thread of the steady-state pool (steady-state-pool.ts): loads the FMU the main thread
 * unpacked, keeps one running instance per slot it is given, and answers each request with the settled
 * mapped outputs of every point (or the FmiError that point ended in).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Fmi2Instance } from './fmi2';
import { openUnpackedFmu } from './fmu';
import { setMappedParameters, startMappedInstance } from './mapped-instance';
import { settleMapped } from './settle';
import type {
  SteadyStateOutcome,
  SteadyStateWorkerData,
  SteadyStateWorkerReply,
  SteadyStateWorkerRequest,
} from './steady-state-pool';

const data = workerData as SteadyStateWorkerData;
const fmu = openUnpackedFmu(data.dir, { trust: data.trust });
const { map } = data;
const instances = new Map<number, Fmi2Instance>();
const signals = map.outputs.map((o) => o.signal);

/** Without a warm start no instance outlives its point (an FMU allowed once per process needs that). */
function evaluate(slot: number, parameters: Record<string, number>): SteadyStateOutcome {
  let instance = instances.get(slot);
  try {
    if (instance === undefined) {
      instance = startMappedInstance(fmu, map, {
        parameters,
        instance: { instanceName: `selfcal-steady-${slot}` },
      });
      if (data.warmStart) instances.set(slot, instance);
    } else {
      setMappedParameters(instance, map, parameters);
    }
    const settled = settleMapped(instance, map);
    return { values: signals.map((s) => settled.signals[s] as number), steps: settled.steps };
  } catch (err) {
    // The instance's state is unknown after a failure: the slot starts afresh next time.
    instance?.dispose();
    instances.delete(slot);
    const e = err as { name?: string; code?: string; message?: string };
    return {
      error: { name: e.name ?? 'Error', code: e.code ?? 'UNKNOWN', message: String(e.message ?? err) },
    };
  } finally {
    if (!data.warmStart) instance?.dispose();
  }
}

parentPort?.on('message', (request: SteadyStateWorkerRequest) => {
  const results = request.points.map((p) => evaluate(p.slot, p.parameters));
  const reply: SteadyStateWorkerReply = { id: request.id, results };
  parentPort?.postMessage(reply);
});
