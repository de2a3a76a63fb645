/**
 * The brokers the ingest conformance and fault tests run against: aedes in-process, and mosquitto as a
 * child process where it is installed. A broker that cannot run here says why (`unavailable`), so a test
 * file can skip its block with that reason instead of passing without having run.
 */
import { startLocalBroker } from '../../../../simulators/broker/index';
import {
  findMosquitto,
  startMosquitto,
  type MosquittoOptions,
} from '../../../../simulators/broker/mosquitto';

export type BrokerName = 'aedes' | 'mosquitto';

export interface TestBroker {
  name: BrokerName;
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface BrokerFactory {
  name: BrokerName;
  /** Why this broker cannot run on this machine; undefined when it can. */
  unavailable: string | undefined;
  /** Start one; `port` to restart on the port of a closed one. No persistence: a restart loses sessions. */
  start(options?: { port?: number }): Promise<TestBroker>;
}

export const AEDES: BrokerFactory = {
  name: 'aedes',
  unavailable: undefined,
  start: async (options = {}) => {
    const broker = await startLocalBroker(options);
    return { name: 'aedes', url: broker.url, port: broker.port, close: () => broker.close() };
  },
};

const mosquittoBinary = findMosquitto();

export const MOSQUITTO: BrokerFactory = {
  name: 'mosquitto',
  unavailable:
    mosquittoBinary === undefined
      ? 'mosquitto is not installed on this machine (apt-get install -y mosquitto; .ci/run installs it)'
      : undefined,
  start: async (options: Pick<MosquittoOptions, 'port' | 'persistenceDir'> = {}) => {
    const broker = await startMosquitto({ ...options, binary: mosquittoBinary });
    return {
      name: 'mosquitto',
      url: broker.url,
      port: broker.port,
      close: async () => void (await broker.close()),
    };
  },
};

export const BROKER_FACTORIES: readonly BrokerFactory[] = [AEDES, MOSQUITTO];

/** Logs, loudly, which brokers a test file will skip and why (call at module level). */
export function announceSkippedBrokers(file: string): void {
  for (const factory of BROKER_FACTORIES) {
    if (factory.unavailable !== undefined) {
      console.warn(`${file}: the ${factory.name} tests are SKIPPED: ${factory.unavailable}`);
    }
  }
}
