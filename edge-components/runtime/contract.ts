/**
 * What an edge component needs from its runtime, independent of where it runs. Two implementations:
 * Greengrass IPC (`aws-iot-device-sdk-v2` greengrasscoreipc, inside a nucleus) and standalone MQTT
 * (`mqtt` against a local broker, AWS's shadow topic layout). One conformance suite runs against both.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface Subscription {
  /** Stop receiving; idempotent. */
  close(): Promise<void>;
}

/** Topic messaging: `local` is the gateway's own bus, `cloud` reaches AWS IoT Core. */
export interface PubSub {
  /** Publish a JSON object (at-least-once where the transport offers it). */
  publish(topic: string, message: JsonObject): Promise<void>;
  /** Messages on `topicFilter` (MQTT wildcards `+`/`#`), delivered in order per topic. */
  subscribe(
    topicFilter: string,
    onMessage: (topic: string, message: JsonObject) => void,
  ): Promise<Subscription>;
}

export interface ShadowState {
  desired?: JsonObject;
  reported?: JsonObject;
  /** desired − reported, as the shadow service computes it. */
  delta?: JsonObject;
}

export interface ShadowDocument {
  state: ShadowState;
  /** The shadow service's version, increasing with every accepted update. */
  version: number;
}

/** A named device shadow of this gateway's thing. */
export interface DeviceShadow {
  /** The current document, or undefined when the shadow does not exist. */
  get(shadowName: string): Promise<ShadowDocument | undefined>;
  /** Merge `reported` into the shadow's reported state. */
  updateReported(shadowName: string, reported: JsonObject): Promise<void>;
  /** Called with the delta (desired keys that differ from reported) after each change of desired. */
  onDelta(shadowName: string, handler: (delta: JsonObject, version: number) => void): Promise<Subscription>;
}

/** The component's own configuration (recipe DefaultConfiguration merged with the deployment's). */
export interface ComponentConfiguration {
  get(): Promise<JsonObject>;
  /** Called with the whole new configuration after each change. */
  onChange(handler: (config: JsonObject) => void): Promise<Subscription>;
}

export interface EdgeRuntime {
  readonly kind: 'greengrass-ipc' | 'mqtt';
  readonly thingName: string;
  readonly local: PubSub;
  readonly cloud: PubSub;
  readonly shadow: DeviceShadow;
  readonly configuration: ComponentConfiguration;
  /** Tell the nucleus the component is RUNNING or ERRORED (no-op standalone). */
  reportState(state: 'RUNNING' | 'ERRORED'): Promise<void>;
  close(): Promise<void>;
}
