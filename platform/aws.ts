/**
 * How every program here points an AWS SDK client somewhere: the region (configured, else AWS_REGION,
 * else AWS_DEFAULT_REGION, else us-east-1), an optional shared-config profile, and an optional endpoint
 * (an emulator; the default credential chain otherwise: Greengrass's token exchange service, the Batch
 * job role, a developer's profile).
 */
import { IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';

/** An AWS region name (eu-west-1) and a shared-config profile name, as configs and CLI flags accept them. */
export const AWS_REGION_PATTERN = '^[a-z]{2}(-[a-z]+)+-\\d$';
export const AWS_PROFILE_PATTERN = '^[A-Za-z0-9_.+@-]{1,64}$';

export interface AwsTarget {
  region?: string | undefined;
  profile?: string | undefined;
  endpoint?: string | undefined;
}

/** The region a client uses: the configured one, else the environment's, else us-east-1. */
export function regionOf(configured: string | undefined, env: NodeJS.ProcessEnv): string {
  return configured ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'] ?? 'us-east-1';
}

/** The common client settings of `target`: region resolved, profile and endpoint only where given. */
export function awsClientConfig(
  target: AwsTarget,
  env: NodeJS.ProcessEnv,
): { region: string; profile?: string; endpoint?: string } {
  return {
    region: regionOf(target.region, env),
    ...(target.profile !== undefined ? { profile: target.profile } : {}),
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
  };
}

/**
 * A SiteWise data-plane client. SiteWise prefixes its data-plane host (`data.iotsitewise…`); an emulator
 * at a custom endpoint is reached without that prefix.
 */
export function createSitewiseClient(target: AwsTarget, env: NodeJS.ProcessEnv): IoTSiteWiseClient {
  return new IoTSiteWiseClient({
    ...awsClientConfig(target, env),
    ...(target.endpoint ? { disableHostPrefix: true } : {}),
  });
}
