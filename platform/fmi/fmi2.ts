/**
 * The FMI 2.0 co-simulation calls: Fmi2Library (a loaded binary, fmi2-library.ts) and Fmi2Instance (one
 * instance, fmi2-instance.ts, where the status policy is described).
 */
export { Fmi2Library } from './fmi2-library';
export {
  Fmi2Instance,
  type InstanceState,
  type InstantiateOptions,
  type SetupExperimentOptions,
  type VariableRef,
} from './fmi2-instance';
export { resolveReferences } from './log-references';
