import { describeJobs, listJobs, submitJob, terminateJob } from './control-plane';
import type { Registry } from './control-plane';
import type { Scheduler } from './scheduler';

/** What a handler may use for one request. */
export interface RouteContext {
  registry: Registry;
  scheduler: Scheduler;
  body: unknown;
}

export interface Route {
  path: string;
  operation: string;
  handle(ctx: RouteContext): unknown;
}

/** Every Batch operation is `POST /v1/<lowercase name>` (dist-cjs `[_ht]: ["POST", path, 200]`). */
export const ROUTES: readonly Route[] = [
  {
    path: '/v1/submitjob',
    operation: 'SubmitJob',
    handle: (c) => submitJob(c.registry, c.scheduler, c.body),
  },
  { path: '/v1/describejobs', operation: 'DescribeJobs', handle: (c) => describeJobs(c.scheduler, c.body) },
  { path: '/v1/listjobs', operation: 'ListJobs', handle: (c) => listJobs(c.registry, c.scheduler, c.body) },
  { path: '/v1/terminatejob', operation: 'TerminateJob', handle: (c) => terminateJob(c.scheduler, c.body) },
  {
    path: '/v1/registerjobdefinition',
    operation: 'RegisterJobDefinition',
    handle: (c) => c.registry.register(c.body),
  },
  {
    path: '/v1/describejobdefinitions',
    operation: 'DescribeJobDefinitions',
    handle: (c) => c.registry.describeDefinitions(c.body),
  },
  { path: '/v1/createjobqueue', operation: 'CreateJobQueue', handle: (c) => c.registry.createQueue(c.body) },
  {
    path: '/v1/describejobqueues',
    operation: 'DescribeJobQueues',
    handle: (c) => c.registry.describeQueues(c.body),
  },
];

export function matchRoute(method: string, pathname: string): Route | undefined {
  if (method !== 'POST') return undefined;
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  return ROUTES.find((r) => r.path === path);
}
