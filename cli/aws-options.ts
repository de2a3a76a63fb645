/**
 * The options every command that talks to AWS takes, as the AWS CLI spells them: `--region`, `--profile`
 * (a profile of the shared config and credentials files; otherwise the SDK's default credential chain),
 * `--endpoint` (an emulator, a VPC endpoint) and `--log-level`.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { AWS_PROFILE_PATTERN, AWS_REGION_PATTERN } from '../platform/aws';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type CliLogLevel = (typeof LOG_LEVELS)[number];

export interface AwsCliOptions {
  region?: string;
  profile?: string;
  endpoint?: string;
  logLevel?: CliLogLevel;
}

const REGION = new RegExp(AWS_REGION_PATTERN);
const PROFILE = new RegExp(AWS_PROFILE_PATTERN);

function parseRegion(raw: string): string {
  if (!REGION.test(raw)) throw new InvalidArgumentError(`'${raw}' is not an AWS region (e.g. eu-west-1).`);
  return raw;
}

function parseProfile(raw: string): string {
  if (!PROFILE.test(raw)) throw new InvalidArgumentError(`'${raw}' is not a profile name.`);
  return raw;
}

function parseEndpoint(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidArgumentError(`'${raw}' is not a URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(`'${raw}' must be an http:// or https:// URL.`);
  }
  return raw;
}

export function logLevelOption(defaultLevel?: CliLogLevel): Option {
  const option = new Option('--log-level <level>', 'least severe log lines written').choices(LOG_LEVELS);
  return defaultLevel === undefined ? option : option.default(defaultLevel);
}

/** Adds --region, --profile, --endpoint and --log-level to `command` (`service` names the endpoint). */
export function withAwsOptions(command: Command, service: string, defaultLevel?: CliLogLevel): Command {
  return command
    .addOption(
      new Option(
        '--region <region>',
        'AWS region (default: AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1)',
      ).argParser(parseRegion),
    )
    .addOption(
      new Option(
        '--profile <name>',
        'profile of the AWS shared config/credentials files (default: AWS_PROFILE, else the SDK credential chain)',
      ).argParser(parseProfile),
    )
    .addOption(
      new Option(
        '--endpoint <url>',
        `${service} endpoint, e.g. an emulator (default: the AWS regional one)`,
      ).argParser(parseEndpoint),
    )
    .addOption(logLevelOption(defaultLevel));
}

/** Whether a line at `level` is written under `threshold`. */
export function logs(threshold: CliLogLevel, level: CliLogLevel): boolean {
  return LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(threshold);
}
