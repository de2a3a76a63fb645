export {
  startFakeNucleus,
  type FakeNucleus,
  type FakeNucleusOptions,
  type IoTCorePublish,
} from './ipc-fake-nucleus';
export { type AccessControl } from './access-control';
