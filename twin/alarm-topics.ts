/**
 * The MQTT topics of the edge's drift (and model-misfit) alarms, as pure data: the estimator publishes on
 * them and the cloud's IoT rule, which turns a raised alarm into a recalibration, subscribes by the same
 * spelling.
 */

/** The gateway's local bus (Greengrass local pub/sub, or the standalone broker). */
export const localDriftTopic = (lineId: string): string => `lines/${lineId}/alarms/drift`;

/** AWS IoT Core: `selfcal/<thingName>/lines/<lineId>/drift`. */
export const cloudDriftTopic = (thingName: string, lineId: string): string =>
  `selfcal/${thingName}/lines/${lineId}/drift`;

/** Every gateway's and line's cloud drift topic, as an MQTT (and IoT SQL FROM) topic filter. */
export const CLOUD_DRIFT_TOPIC_FILTER = cloudDriftTopic('+', '+');

/** 1-based segments of a cloud drift topic, as IoT SQL's `topic(n)` numbers them. */
export const CLOUD_DRIFT_TOPIC_SEGMENTS = { thingName: 2, lineId: 4 } as const;
