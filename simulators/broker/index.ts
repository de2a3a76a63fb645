export { startLocalBroker, type LocalBroker, type LocalBrokerOptions } from './local-broker';
export { startTcpFaultProxy, type TcpFaultProxy, type TcpFaultProxyOptions } from './tcp-fault-proxy';
export { findMosquitto, startMosquitto, type MosquittoBroker, type MosquittoOptions } from './mosquitto';
export {
  startShadowService,
  ShadowServiceError,
  type ShadowService,
  type ShadowServiceOptions,
} from './shadow-service';
