/** SiteWise as the job's window source and posterior sink (one module path for the job's wiring). */
export { SitewiseWindowSource } from './sitewise-window-source';
export type { SitewiseWindowSourceOptions } from './sitewise-window-source';
export { SitewisePosteriorSink, posteriorValues } from './sitewise-posterior-sink';
export type { SitewisePosteriorSinkOptions } from './sitewise-posterior-sink';
export type { SitewiseIoOptions } from './contracts';
