/**
 * The FMI 2.0 co-simulation runtime (docs/fmi.md): open an .fmu, instantiate, set/get, step, settle,
 * through a variable map. Shared by the plant simulator (simulators/), the calibration job (cloud/) and
 * the CLI.
 */
export { FmiError, formatLogLine, type FmiErrorCode, type FmiStatusName, type FmuLogLine } from './errors';
export {
  parseModelDescription,
  type Causality,
  type CoSimulationInfo,
  type DefaultExperiment,
  type ModelDescription,
  type ScalarVariable,
  type Variability,
  type VariableType,
} from './model-description';
export { DEFAULT_UNPACK_LIMITS, type UnpackLimits, type UnpackOptions } from './archive';
export { trustProblem, type OwnerAndMode } from './trust';
export {
  Fmi2Instance,
  Fmi2Library,
  resolveReferences,
  type InstanceState,
  type InstantiateOptions,
  type SetupExperimentOptions,
  type VariableRef,
} from './fmi2';
export {
  Fmu,
  fmi2BinaryPlatform,
  openFmu,
  openUnpackedFmu,
  type BinaryPlatform,
  type OpenFmuOptions,
} from './fmu';
export {
  checkVariableMap,
  parseVariableMap,
  readVariableMap,
  MAX_SETTLE_STEPS,
  type InputMapping,
  type OutputMapping,
  type ParameterMapping,
  type VariableMap,
} from './variable-map';
export { settle, settleMapped, type MappedSteadyState, type SettleResult, type SettleRule } from './settle';
export {
  readMappedOutputs,
  setMappedParameters,
  startMappedInstance,
  type StartMappedOptions,
} from './mapped-instance';
