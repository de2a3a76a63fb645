/**
 * What the estimator process connects to besides its outbox: the runtime (pub/sub for drift alarms,
 * the device shadow for parameter manifests, component state) and the calibration receiver.
 */
import { trustedKeysFromPem } from '../../twin/calibration/manifest';
import { ManifestError } from '../../twin/calibration/errors';
import { createSteadyStateTrial } from '../../twin/calibration/trial';
import type { LineTopology } from '../../twin/lines/topology';
import { CalibrationReceiver } from '../calibration/calibration-receiver';
import type { AppliedParameters } from '../calibration/contract';
import type { EdgeRuntime } from '../runtime/contract';
import { startGreengrassIpcRuntime } from '../runtime/greengrass-ipc-runtime';
import { startMqttRuntime } from '../runtime/mqtt-runtime';
import { ConfigError } from '../../platform/config';
import type { Logger } from '../../platform/logger';
import type { SqliteParameterStore } from '../store/parameter-store';
import type { EstimatorConfig } from './config';

/** The runtime the configuration asks for; undefined for `none` (or `auto` outside a nucleus). */
export async function startRuntime(
  config: Readonly<EstimatorConfig>,
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<EdgeRuntime | undefined> {
  const kind =
    config.runtime === 'auto'
      ? env.AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT
        ? 'greengrass-ipc'
        : 'none'
      : config.runtime;
  if (kind === 'none') return undefined;
  if (kind === 'mqtt') {
    return startMqttRuntime({
      brokerUrl: config.mqtt.brokerUrl,
      clientId: config.mqtt.clientId,
      thingName: config.thingName,
      logger,
    });
  }
  return startGreengrassIpcRuntime({ env, logger });
}

/**
 * The calibration receiver of the (single) line, on the runtime's device shadow; its trial compares
 * candidate and active parameters on the newest GOOD readings in the outbox.
 */
export function createCalibrationReceiver(options: {
  config: Readonly<EstimatorConfig>;
  lines: readonly LineTopology[];
  runtime: EdgeRuntime;
  parameters: SqliteParameterStore;
  logger: Logger;
  onApplied: (applied: AppliedParameters) => void;
}): CalibrationReceiver {
  const { config, lines, runtime, parameters, logger, onApplied } = options;
  const topology = lines[0];
  if (lines.length !== 1 || topology === undefined) {
    throw new ConfigError(
      'lines',
      'parameter manifests arrive on one calibration shadow per gateway: configure one line per estimator ' +
        "(or set runtime 'none')",
    );
  }
  let trustedKeys;
  try {
    trustedKeys = trustedKeysFromPem(config.calibration.trustedKeys);
  } catch (cause) {
    if (!(cause instanceof ManifestError)) throw cause;
    throw new ConfigError('calibration/trustedKeys', cause.message, { cause });
  }
  if (trustedKeys.size === 0)
    logger.warn('no trusted calibration keys configured: every parameter manifest will be refused');
  const lineId = topology.line.id;
  const measured = topology.line.sensors.map((s) => s.signal);
  return new CalibrationReceiver({
    shadow: runtime.shadow,
    store: parameters,
    topology,
    trustedKeys,
    // Measured signals only: the outbox also holds the estimator's own outputs (virtual sensors, b…),
    // which would crowd the measurements out of the newest `trialReadings` rows.
    trial: createSteadyStateTrial(topology, () =>
      parameters.recentReadings(lineId, config.calibration.trialReadings, 0, measured),
    ),
    logger,
    onApplied,
    maxManifestBytes: config.calibration.maxManifestBytes,
    clockSkewMs: config.calibration.clockSkewMs,
  });
}
