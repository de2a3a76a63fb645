/**
 * Property aliases: where a line's signal lives in SiteWise. The edge publisher writes, the calibration
 * job reads and writes, and the infrastructure declares properties by the same template.
 */

/** The default template; `{lineId}` and `{signal}` are substituted. */
export const DEFAULT_ALIAS_TEMPLATE = '/selfcal/{lineId}/{signal}';

export function propertyAlias(template: string, lineId: string, signal: string): string {
  return template.replace('{lineId}', lineId).replace('{signal}', signal);
}

/** The alias of a reading under `template`. */
export function aliasFromTemplate(template: string): (r: { lineId: string; signal: string }) => string {
  return (r) => propertyAlias(template, r.lineId, r.signal);
}
