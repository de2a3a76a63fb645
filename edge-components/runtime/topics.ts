/** MQTT topic-filter matching and AWS's named-shadow topic layout. */

/**
 * True when `topic` matches `filter` (`+` one level, `#` the rest, as MQTT; a filter starting with a
 * wildcard does not match `$`-topics, MQTT 3.1.1 §4.7.2).
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

/** `$aws/things/<thing>/shadow/name/<shadow>` — followed by `/get`, `/update/delta`, … */
export function namedShadowTopic(thingName: string, shadowName: string): string {
  return `$aws/things/${thingName}/shadow/name/${shadowName}`;
}

const SHADOW_NAME = /^[A-Za-z0-9:_-]{1,64}$/;
const THING_NAME = /^[A-Za-z0-9:_-]{1,128}$/;

export function isValidShadowName(name: string): boolean {
  return SHADOW_NAME.test(name);
}

export function isValidThingName(name: string): boolean {
  return THING_NAME.test(name);
}
