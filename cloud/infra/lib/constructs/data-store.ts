/**
 * The project's bucket: the calibration job's savepoints and records (`calibration/`), bulk-import files
 * (`bulk-import/`) and the gateways' component artifacts (`greengrass/`). Encrypted, TLS-only, versioned,
 * public access blocked, server access logs to a second bucket, lifecycle rules per prefix.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** Key prefixes of the bucket, each with its reader and writer. */
export const BUCKET_PREFIXES = {
  /** The job's object store (savepoints, results, manifests, the fleet's line descriptions). */
  calibration: 'calibration/',
  /** CSV files for CreateBulkImportJob (readings older than SiteWise's 7 days). */
  bulkImport: 'bulk-import/',
  /** Greengrass component artifacts, `<component>/<version>/<file>`. */
  greengrass: 'greengrass/',
} as const;

export interface DataStoreProps {
  /** Days after which job records and savepoints (and old artifact versions) expire. */
  readonly jobRecordDays: number;
}

export class DataStore extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: DataStoreProps) {
    super(scope, id);
    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This is the server access log bucket of the data bucket; logging its own access would recurse.',
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'data-bucket/',
      lifecycleRules: lifecycleRules(props.jobRecordDays),
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}

function lifecycleRules(days: number): s3.LifecycleRule[] {
  return [
    {
      id: 'expire-job-records',
      prefix: BUCKET_PREFIXES.calibration + 'jobs/',
      expiration: Duration.days(days),
      noncurrentVersionExpiration: Duration.days(7),
    },
    {
      id: 'expire-bulk-import-files',
      prefix: BUCKET_PREFIXES.bulkImport,
      expiration: Duration.days(30),
      noncurrentVersionExpiration: Duration.days(7),
    },
    {
      // Artifacts of component versions still deployed must stay: only replaced objects expire.
      id: 'expire-replaced-artifacts',
      prefix: BUCKET_PREFIXES.greengrass,
      noncurrentVersionExpiration: Duration.days(days),
    },
    { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
  ];
}
