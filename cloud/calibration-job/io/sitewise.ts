/** SiteWise as the job's window source and posterior sink (one module path for the job's wiring). */
export { SitewiseWindowSource, HISTORY_ENTRIES_PER_CALL } from './sitewise-window-source';
export type { SitewiseWindowSourceOptions } from './sitewise-window-source';
export {
  SitewisePosteriorSink,
  PUT_ENTRIES_PER_CALL,
  HEALTH_CODES,
  posteriorValues,
} from './sitewise-posterior-sink';
export type { SitewisePosteriorSinkOptions } from './sitewise-posterior-sink';
export { DEFAULT_ALIAS_TEMPLATE, propertyAlias } from './sitewise-common';
export type { SitewiseIoOptions } from './sitewise-common';
