/**
 * The CDK app: settings from context, the edge components packaged (as `npm run package` does, into
 * `artifacts/cdk/`), the stack, and cdk-nag's AwsSolutions checks as a validation plugin (synth reports
 * every unacknowledged finding). bin/selfcal-infra.ts runs it; the tests build it the same way.
 */
import { join, resolve } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { packageVersion } from '../../../scripts/package-components';
import { packageEdgeComponents } from './components';
import { infraConfigFrom, type InfraConfig } from './config';
import { SelfcalStack } from './selfcal-stack';

export const REPO_ROOT = resolve(__dirname, '../../..');
/** Where the app packages the edge components by default (ignored by git, like `npm run package`'s). */
export const DEFAULT_COMPONENTS_DIR = join(REPO_ROOT, 'artifacts', 'cdk');

/** Feature flags the stack is written against (the CLI's cdk.json context may add others). */
export const FEATURE_FLAGS: Readonly<Record<string, unknown>> = {
  '@aws-cdk/aws-iam:minimizePolicies': true,
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
  '@aws-cdk/aws-batch:defaultToAL2023': true,
};

export interface SelfcalAppOptions {
  /** Context values (the CLI's `-c` and cdk.json take precedence, as for any CDK app). */
  readonly context?: Record<string, unknown>;
  readonly outdir?: string;
  /** Where to package the edge components (default DEFAULT_COMPONENTS_DIR). */
  readonly componentsDir?: string;
  /**
   * Register cdk-nag as a synth validation plugin (default true). Tests run the checks themselves
   * (`AwsSolutionsChecks.validateScope`) to assert on the findings.
   */
  readonly nagPlugin?: boolean;
  /** CDK's built-in CloudFormation schema validation at synth (default true; about 5 s). */
  readonly cloudFormationValidation?: boolean;
}

export interface SelfcalApp {
  readonly app: App;
  readonly stack: SelfcalStack;
  readonly config: InfraConfig;
}

export async function createSelfcalApp(options: SelfcalAppOptions = {}): Promise<SelfcalApp> {
  const app = new App({
    context: { ...FEATURE_FLAGS, ...options.context },
    ...(options.outdir ? { outdir: options.outdir } : {}),
    builtinCloudFormationValidation: options.cloudFormationValidation ?? true,
  });
  const config = infraConfigFrom((key) => app.node.tryGetContext(key) as unknown, packageVersion());
  const componentsDir = options.componentsDir ?? DEFAULT_COMPONENTS_DIR;
  const components = await packageEdgeComponents(componentsDir, config.componentVersion);
  const stack = new SelfcalStack(app, 'Selfcal', {
    stackName: config.prefix,
    description:
      'selfcal: self-calibrating digital twins (SiteWise, Batch GPU recalibration, Greengrass gateways, Grafana)',
    env: { account: process.env['CDK_DEFAULT_ACCOUNT'], region: process.env['CDK_DEFAULT_REGION'] },
    config,
    components,
    componentsDir,
    repoRoot: REPO_ROOT,
  });
  if (options.nagPlugin ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, config };
}
