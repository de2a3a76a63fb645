import { clientError } from './api-errors';
import type { EvaluateOnExit, JobTimeout, KeyValuePair, RetryStrategy } from './wire-types';

export type Json = Record<string, unknown>;

export function asObject(v: unknown, what: string): Json {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw clientError(`${what} must be an object`);
  return v as Json;
}

export function requiredString(o: Json, key: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '')
    throw clientError(`${key} is required and must be a non-empty string`);
  return v;
}

export function optionalString(o: Json, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw clientError(`${key} must be a string`);
  return v;
}

export function optionalInt(o: Json, key: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw clientError(`${key} must be an integer between ${min} and ${max}`);
  }
  return v;
}

export function stringList(v: unknown, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
    throw clientError(`${what} must be a list of strings`);
  }
  return v as string[];
}

export function stringMap(v: unknown, what: string): Record<string, string> {
  const o = asObject(v, what);
  for (const [k, s] of Object.entries(o)) {
    if (typeof s !== 'string') throw clientError(`${what}.${k} must be a string`);
  }
  return o as Record<string, string>;
}

export function environment(v: unknown, what: string): KeyValuePair[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw clientError(`${what} must be a list of {name, value}`);
  return v.map((e, i) => {
    const o = asObject(e, `${what}[${i}]`);
    const name = requiredString(o, 'name');
    if (name.startsWith('AWS_BATCH')) {
      throw clientError(`${what}[${i}]: variables starting with AWS_BATCH are reserved`);
    }
    return { name, value: optionalString(o, 'value') ?? '' };
  });
}

const EXIT_CODE_GLOB = /^[0-9]{1,512}\*?$|^\*$/;
const REASON_GLOB = /^[A-Za-z0-9.: \t\r\n*_/()-]{1,512}$/;

export function retryStrategy(v: unknown): RetryStrategy | undefined {
  if (v === undefined || v === null) return undefined;
  const o = asObject(v, 'retryStrategy');
  const attempts = optionalInt(o, 'attempts', 1, 10) ?? 1;
  const rawRules = o['evaluateOnExit'];
  if (rawRules === undefined || rawRules === null) return { attempts };
  if (!Array.isArray(rawRules) || rawRules.length > 5) {
    throw clientError('retryStrategy.evaluateOnExit must be a list of at most 5 conditions');
  }
  const evaluateOnExit = rawRules.map((r, i): EvaluateOnExit => {
    const ro = asObject(r, `evaluateOnExit[${i}]`);
    const action = requiredString(ro, 'action').toUpperCase();
    if (action !== 'RETRY' && action !== 'EXIT') {
      throw clientError(`evaluateOnExit[${i}].action must be RETRY or EXIT`);
    }
    const rule: EvaluateOnExit = { action };
    const onExitCode = optionalString(ro, 'onExitCode');
    const onStatusReason = optionalString(ro, 'onStatusReason');
    const onReason = optionalString(ro, 'onReason');
    if (onExitCode !== undefined) {
      if (!EXIT_CODE_GLOB.test(onExitCode)) throw clientError(`evaluateOnExit[${i}].onExitCode is invalid`);
      rule.onExitCode = onExitCode;
    }
    for (const [key, value] of [
      ['onStatusReason', onStatusReason],
      ['onReason', onReason],
    ] as const) {
      if (value === undefined) continue;
      if (!REASON_GLOB.test(value)) throw clientError(`evaluateOnExit[${i}].${key} is invalid`);
      rule[key] = value;
    }
    return rule;
  });
  return { attempts, evaluateOnExit };
}

export function jobTimeout(v: unknown, minSeconds: number): JobTimeout | undefined {
  if (v === undefined || v === null) return undefined;
  const o = asObject(v, 'timeout');
  const s = optionalInt(o, 'attemptDurationSeconds', 1, Number.MAX_SAFE_INTEGER);
  if (s === undefined) return undefined;
  if (s < minSeconds) throw clientError(`timeout.attemptDurationSeconds must be at least ${minSeconds}`);
  return { attemptDurationSeconds: s };
}
