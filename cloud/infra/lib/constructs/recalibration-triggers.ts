/**
 * What starts the recalibration workflow: an EventBridge Scheduler schedule (hourly by default), and the
 * edge's drift alarms. A raised alarm on `selfcal/<thing>/lines/<line>/drift` (twin/alarm-topics.ts) goes
 * through an IoT rule to an SQS queue, and an EventBridge Pipe starts the workflow with a batch of them.
 * Why a queue and a pipe rather than a rule action straight to the workflow: the queue keeps alarms
 * through a workflow outage (with a dead-letter queue after 3 receipts), and the pipe's batching window
 * turns a burst of alarms (several lines, a gateway catching up after an outage) into one execution
 * that submits one job per alarmed line, instead of one execution per message.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as pipes from 'aws-cdk-lib/aws-pipes';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CLOUD_DRIFT_TOPIC_FILTER, CLOUD_DRIFT_TOPIC_SEGMENTS } from '../../../../twin/alarm-topics';

export interface RecalibrationTriggersProps {
  readonly prefix: string;
  readonly stateMachine: sfn.IStateMachine;
  /** EventBridge Scheduler expression: `rate(1 hour)`, `cron(0 * * * ? *)`. */
  readonly schedule: string;
  readonly logRetention: logs.RetentionDays;
  /** Seconds the pipe gathers alarms before starting one execution (0–300). */
  readonly alarmBatchingWindowS?: number;
}

/** The IoT SQL of the drift rule: raised alarms only, thing and line taken from the (policy-checked) topic. */
export const DRIFT_RULE_SQL =
  `SELECT topic(${CLOUD_DRIFT_TOPIC_SEGMENTS.thingName}) AS thingName, ` +
  `topic(${CLOUD_DRIFT_TOPIC_SEGMENTS.lineId}) AS lineId, ts, reasons ` +
  `FROM '${CLOUD_DRIFT_TOPIC_FILTER}' WHERE state = 'raised'`;

export class RecalibrationTriggers extends Construct {
  readonly schedule: scheduler.Schedule;
  readonly alarmQueue: sqs.Queue;
  readonly deadLetters: sqs.Queue;
  readonly driftRule: iot.CfnTopicRule;
  readonly pipe: pipes.CfnPipe;

  constructor(scope: Construct, id: string, props: RecalibrationTriggersProps) {
    super(scope, id);
    this.deadLetters = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.alarmQueue = new sqs.Queue(this, 'DriftAlarms', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: 3 },
    });
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: 'Scheduled recalibration of the whole fleet',
      schedule: scheduler.ScheduleExpression.expression(props.schedule),
      target: new schedulerTargets.StepFunctionsStartExecution(props.stateMachine, {
        input: scheduler.ScheduleTargetInput.fromObject({
          source: 'schedule',
          at: scheduler.ContextAttribute.scheduledTime,
        }),
        deadLetterQueue: this.deadLetters,
        retryAttempts: 3,
      }),
    });
    this.driftRule = this.rule(props);
    this.pipe = this.alarmPipe(props);
  }

  private rule(props: RecalibrationTriggersProps): iot.CfnTopicRule {
    const errors = new logs.LogGroup(this, 'RuleErrors', {
      logGroupName: `/${props.prefix}/iot-rule-errors`,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, 'RuleRole', {
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com'),
      description: 'The drift-alarm IoT rule: send to its queue, log its errors',
    });
    this.alarmQueue.grantSendMessages(role);
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [errors.logGroupArn],
      }),
    );
    return new iot.CfnTopicRule(this, 'DriftRule', {
      ruleName: `${props.prefix.replace(/-/g, '_')}_drift_alarms`,
      topicRulePayload: {
        description: 'A raised drift or model-misfit alarm from a gateway starts a recalibration of its line',
        sql: DRIFT_RULE_SQL,
        awsIotSqlVersion: '2016-03-23',
        ruleDisabled: false,
        actions: [{ sqs: { queueUrl: this.alarmQueue.queueUrl, roleArn: role.roleArn, useBase64: false } }],
        errorAction: { cloudwatchLogs: { logGroupName: errors.logGroupName, roleArn: role.roleArn } },
      },
    });
  }

  private alarmPipe(props: RecalibrationTriggersProps): pipes.CfnPipe {
    const logGroup = new logs.LogGroup(this, 'PipeLogs', {
      logGroupName: `/aws/vendedlogs/pipes/${props.prefix}-drift-alarms`,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, 'PipeRole', {
      assumedBy: new iam.ServicePrincipal('pipes.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'The drift-alarm pipe: read its queue, start the recalibration workflow',
    });
    this.alarmQueue.grantConsumeMessages(role);
    props.stateMachine.grantStartExecution(role);
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    const pipe = new pipes.CfnPipe(this, 'DriftPipe', {
      name: `${props.prefix}-drift-alarms`,
      description: 'Drift alarms (SQS) to the recalibration workflow, in batches',
      roleArn: role.roleArn,
      source: this.alarmQueue.queueArn,
      sourceParameters: {
        sqsQueueParameters: {
          batchSize: 10,
          maximumBatchingWindowInSeconds: props.alarmBatchingWindowS ?? 60,
        },
      },
      target: props.stateMachine.stateMachineArn,
      targetParameters: { stepFunctionStateMachineParameters: { invocationType: 'FIRE_AND_FORGET' } },
      logConfiguration: {
        level: 'ERROR',
        cloudwatchLogsLogDestination: { logGroupArn: logGroup.logGroupArn },
      },
    });
    pipe.node.addDependency(role);
    return pipe;
  }
}
