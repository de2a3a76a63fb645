/**
 * The nucleus's IPC authorization, as configured by a recipe's `accessControl`:
 * `{ <ipcService>: { <policyId>: { operations: [...], resources: [...] } } }`. Resource matching follows
 * the nucleus: `*` matches any characters; for `aws.greengrass.ipc.mqttproxy` the MQTT wildcards `+`/`#`
 * in a policy also match, for local pub/sub they are literal.
 */
export type AccessControl = Record<
  string,
  Record<string, { policyDescription?: string; operations: string[]; resources: string[] }>
>;

export const IPC_SERVICE = {
  pubsub: 'aws.greengrass.ipc.pubsub',
  mqttproxy: 'aws.greengrass.ipc.mqttproxy',
  shadow: 'aws.greengrass.ShadowManager',
} as const;

function globMatches(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return re.test(value);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** MQTT topic-filter match (`+` one level, `#` the rest). */
export function mqttTopicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

/** True when `accessControl` (undefined: allow everything) grants `operation` on `resource`. */
export function isAuthorized(
  accessControl: AccessControl | undefined,
  service: string,
  operation: string,
  resource: string,
): boolean {
  if (accessControl === undefined) return true;
  const policies = accessControl[service];
  if (!policies) return false;
  return Object.values(policies).some(
    (policy) =>
      (policy.operations.includes('*') || policy.operations.includes(operation)) &&
      policy.resources.some(
        (r) =>
          r === '*' ||
          globMatches(r, resource) ||
          (service === IPC_SERVICE.mqttproxy && mqttTopicMatches(r, resource)),
      ),
  );
}
