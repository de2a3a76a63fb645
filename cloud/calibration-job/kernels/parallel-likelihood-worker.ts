/**
 * Worker thread of the parallel member evaluator (parallel-likelihood.ts): holds one
 * TrendLikelihoodReference built from the (topology, window, setpoints) in `workerData` (structured
 * clones of the main thread's) and, per request, evaluates the members [from, to) of the shared θ
 * buffer into the same rows of the shared output buffer. Replies `{ id }` when done, or `{ id, error }`
 * with the error's name, code and message (the main thread turns it into a KernelError). Loaded as
 * TypeScript through tsx under jest and tsx, as dist/job/parallel-likelihood-worker.js in the bundle.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TrendLikelihoodReference } from '../../../twin/estimation/smc/trend-likelihood';
import type { ParallelWorkerData, ParallelWorkerReply, ParallelWorkerRequest } from './parallel-likelihood';

const data = workerData as ParallelWorkerData;
const port = parentPort;
if (!port) throw new Error('parallel-likelihood-worker runs only as a worker thread');
const reference = new TrendLikelihoodReference(data.topology, data.window, data.setpoints);
const d = reference.dimTheta;

port.on('message', (request: ParallelWorkerRequest) => {
  const { id, from, to } = request;
  let reply: ParallelWorkerReply;
  try {
    const thetas = new Float64Array(request.thetas, from * d * 8, (to - from) * d);
    const out = new Float64Array(request.out, from * 8, to - from);
    reference.evaluate(thetas, out);
    reply = { id };
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    const code = (error as { code?: unknown }).code;
    reply = {
      id,
      error: { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) },
    };
  }
  port.postMessage(reply);
});
