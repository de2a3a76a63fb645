/**
 * Child process of the validation pool: runs each scenario it is sent and replies with the scored result
 * (or the error). Exits when the parent disconnects.
 */
import type { LineTopology } from '../../twin/lines/topology';
import { loadLineFrom } from '../../platform/line-file';
import type { WorkerReply, WorkerRequest } from './pool';
import { runScenario } from './run-scenario';

const topologies = new Map<string, LineTopology>();
const topologyFor = (line = '') => {
  let t = topologies.get(line);
  if (!t) topologies.set(line, (t = loadLineFrom(line || undefined)));
  return t;
};

process.on('message', (request: WorkerRequest) => {
  const reply = (r: WorkerReply) => process.send?.(r);
  runScenario(request.scenario, request.options, topologyFor(request.options.line)).then(
    (result) => reply({ index: request.scenario.index, result }),
    (e: unknown) =>
      reply({
        index: request.scenario.index,
        error: e instanceof Error ? (e.stack ?? e.message) : String(e),
      }),
  );
});
process.on('disconnect', () => process.exit(0));
