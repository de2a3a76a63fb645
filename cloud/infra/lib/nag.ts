/**
 * cdk-nag acknowledgements of what CDK itself creates for the stack (the S3 deployment function, the AWS
 * SDK call function, task policies of Step Functions), each finding named exactly, with its reason.
 * Acknowledgements of the project's own resources sit next to them, in their constructs.
 */
import { Stack, Token, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

const BASIC_EXECUTION =
  'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole';

/** How cdk-nag prints the stack's region and account inside a finding id. */
export function nagEnv(stack: Stack): { region: string; account: string } {
  return {
    region: Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region,
    account: Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account,
  };
}

/** The finding id of an IAM5 wildcard on the resource of a bucket's objects under `prefix`. */
export function bucketPrefixFinding(stack: Stack, bucket: IConstruct, prefix: string): string {
  const logicalId = stack.getLogicalId(bucket.node.defaultChild as never);
  return `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${prefix}*]`;
}

function acknowledge(scope: IConstruct, findings: readonly string[], reason: string): void {
  for (const id of findings) Validations.of(scope).acknowledge({ id, reason });
}

/** The singleton function of every s3-deployment BucketDeployment (it copies the staged files). */
function bucketDeploymentHandler(stack: Stack, bucket: IConstruct): void {
  const handlers = stack.node.children.filter((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
  const { region, account } = nagEnv(stack);
  const bucketId = stack.getLogicalId(bucket.node.defaultChild as never);
  for (const handler of handlers) {
    acknowledge(
      handler,
      [`AwsSolutions-IAM4[${BASIC_EXECUTION}]`],
      "CDK's BucketDeployment function: the AWS-managed basic execution policy only lets it write its own logs.",
    );
    acknowledge(
      handler,
      ['s3:GetBucket*', 's3:GetObject*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'].map(
        (a) => `AwsSolutions-IAM5[Action::${a}]`,
      ),
      "CDK's BucketDeployment function reads the staged files from the CDK asset bucket and writes (with prune, deletes) them in the data bucket: CDK's own grantRead/grantReadWrite action groups.",
    );
    acknowledge(
      handler,
      [
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-${account}-${region}/*]`,
        `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`,
      ],
      "CDK's BucketDeployment function copies asset objects, whose names are content hashes, into the data bucket under the prefixes the stack gives it (greengrass/, calibration/lines/, calibration/fmus/, dashboards/).",
    );
    acknowledge(
      handler,
      ['AwsSolutions-L1'],
      "CDK's BucketDeployment function runs on the Python runtime CDK pins for its AWS CLI layer; it is not the stack's code.",
    );
  }
}

/** The singleton function behind AwsCustomResource (the IoT endpoint lookup). */
function awsCustomResourceHandler(stack: Stack): void {
  const handler = stack.node.tryFindChild('AWS679f53fac002430cb0da5b7982bd2287');
  if (!handler) return;
  acknowledge(
    handler,
    [`AwsSolutions-IAM4[${BASIC_EXECUTION}]`],
    "CDK's AwsCustomResource function: the AWS-managed basic execution policy only lets it write its own logs.",
  );
}

/** Acknowledges the findings on CDK's own helper functions in `stack` (call once the stack is built). */
export function acknowledgeCdkHelpers(stack: Stack, bucket: IConstruct): void {
  bucketDeploymentHandler(stack, bucket);
  awsCustomResourceHandler(stack);
}
