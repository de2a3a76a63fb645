/**
 * The recalibration workflow (Step Functions, JSONata): what the schedule and the drift alarms start. It
 * fixes the window at its start (the job reads a fixed window, so that every retry works on the same
 * data: cloud/batch/submit.ts), picks the lines (the whole fleet on schedule; on alarms, the fleet's
 * lines whose gateway raised one), and submits the job to the GPU queue; a GPU job cancelled for want of
 * capacity is resubmitted to the CPU queue. The fleet on schedule is one array job (child i works on
 * fleet[i]); alarmed lines are one job each.
 *
 * Input: `{ "source": "schedule", "at": "<ISO instant>" }` (the scheduler's scheduled time), or the
 * EventBridge Pipe's batch of SQS records whose bodies are the drift rule's messages
 * (`{ "thingName", "lineId", ... }`).
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { MAX_CONFIG_BYTES } from '../../../batch/submit';
import type { FleetUkfModel } from '../../../calibration-job/job-config';
import { InfraConfigError } from '../config';
import { nagEnv } from '../nag';
import type { JobTarget } from './calibration-batch';

/** A fleet entry as the job's config takes it. */
export interface JobFleetEntry {
  readonly lineId: string;
  readonly thingName: string;
  readonly line: string;
  /** The line's FMU model in the job's store (`store:fmus/…`), where it has one. */
  readonly ukfModel?: FleetUkfModel;
}

export interface RecalibrationWorkflowProps {
  readonly prefix: string;
  readonly fleet: readonly JobFleetEntry[];
  readonly windowHours: number;
  readonly gpu: JobTarget;
  readonly cpu: JobTarget;
  /** `gpu`: the GPU queue first, the CPU queue when it has no capacity; `cpu`: the CPU queue only. */
  readonly compute: 'gpu' | 'cpu';
  readonly logRetention: logs.RetentionDays;
}

/** What Batch puts into the status reason of a job the GPU queue cancelled for want of capacity. */
export const NO_GPU_CAPACITY_REASON = 'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY';

/** How long one recalibration may take at most (queue wait, attempts, fallback): a bound on a stuck one. */
export const WORKFLOW_TIMEOUT = Duration.days(1);

/** Bytes of the window part of a job config (`,"window":{"from":"…","to":"…"}` with millisecond instants). */
const WINDOW_BYTES = 80;

/**
 * Refuses a fleet whose scheduled job's config (every entry, with its `ukfModel`, and the window) would
 * not fit a submission: INFRA_CONFIG_INVALID naming `fleet`.
 */
export function checkJobFleetSize(fleet: readonly JobFleetEntry[]): void {
  const fleetBytes = Buffer.byteLength(JSON.stringify({ fleet })) + WINDOW_BYTES;
  if (fleetBytes > MAX_CONFIG_BYTES)
    throw new InfraConfigError(
      'INFRA_CONFIG_INVALID',
      'fleet',
      `the fleet's job config is about ${fleetBytes} bytes, over the ${MAX_CONFIG_BYTES} a submission carries; deploy the fleet as several stacks (prefix)`,
    );
}

/**
 * The JSONata of the plan: window, source and lines. `lines` is always an array (`$append([], …)`: JSONata
 * makes a one-element result a single value, which a Map state would refuse).
 */
export function planExpression(fleet: readonly JobFleetEntry[], windowHours: number): string {
  const fleetJson = JSON.stringify(fleet);
  return `{% (
  $fleet := ${fleetJson};
  $alarmed := $type($states.input) = 'array';
  $alarms := $alarmed ? $states.input.($parse(body)) : [];
  $to := $alarmed or $not($exists($states.input.at)) ? $states.context.Execution.StartTime : $states.input.at;
  {
    'source': $alarmed ? 'drift' : 'schedule',
    'window': { 'from': $fromMillis($toMillis($to) - ${windowHours * 3_600_000}), 'to': $to },
    'lines': $append([], $alarmed
      ? $filter($fleet, function($l) { $count($alarms[lineId = $l.lineId and thingName = $l.thingName]) > 0 })
      : $fleet)
  }
) %}`;
}

/** The JSONata of a job's name and `jobConfig` parameter, for the fleet (input: the plan's output). */
export const FLEET_JOB = {
  jobName: `{% 'selfcal-schedule-' & ${stamp('$states.input.window.to')} %}`,
  jobConfig: `{% $string({ 'fleet': $states.input.lines, 'window': $states.input.window }) %}`,
} as const;

/** The same for one alarmed line (input: `{ line, window }`, a Map item). */
export const LINE_JOB = {
  jobName: `{% 'selfcal-drift-' & $states.input.line.lineId & '-' & ${stamp('$states.input.window.to')} %}`,
  jobConfig: `{% $string({ 'fleet': [$states.input.line], 'window': $states.input.window }) %}`,
} as const;

/** After the alarmed lines' Map (input: each line's result): did any fail, and the cause to report. */
export const LINE_RESULTS = {
  anyFailed: '{% $count($states.input[failed = true]) > 0 %}',
  cause: `{% 'line(s) ' & $join($states.input[failed = true].lineId, ', ') & ': ' & $string($states.input[failed = true]) %}`,
} as const;

export class RecalibrationWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: RecalibrationWorkflowProps) {
    super(scope, id);
    checkJobFleetSize(props.fleet);
    const plan = sfn.Pass.jsonata(this, 'Plan', {
      comment: 'Fix the window at the start and pick the lines',
      outputs: planExpression(props.fleet, props.windowHours),
    });
    plan.next(
      sfn.Choice.jsonata(this, 'AnyLine')
        .when(
          sfn.Condition.jsonata('{% $count($states.input.lines) = 0 %}'),
          sfn.Succeed.jsonata(this, 'NoKnownLine', { comment: 'No alarm came from a line of this fleet' }),
        )
        .when(sfn.Condition.jsonata(`{% $states.input.source = 'schedule' %}`), this.fleetJob(props))
        .otherwise(this.lineJobs(props)),
    );
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${props.prefix}-recalibration`,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: `${props.prefix}-recalibration`,
      queryLanguage: sfn.QueryLanguage.JSONATA,
      definitionBody: sfn.DefinitionBody.fromChainable(plan),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
      timeout: WORKFLOW_TIMEOUT,
    });
    const { region, account } = nagEnv(Stack.of(this));
    Validations.of(this.stateMachine.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:batch:${region}:${account}:job-definition/*]`,
      reason:
        "CDK's Batch task grants batch:SubmitJob on job-definition/* (every deployment registers a new revision); the job queues it may submit to are named.",
    });
    Validations.of(this.stateMachine.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions log delivery (logs:*LogDelivery, DescribeLogGroups, resource policies) and X-Ray tracing: these actions have no resource type, IAM requires *.',
    });
  }

  /** The whole fleet: one array job (a single job for a fleet of one). */
  private fleetJob(props: RecalibrationWorkflowProps): sfn.IChainable {
    const arraySize = props.fleet.length >= 2 ? props.fleet.length : undefined;
    const failed = sfn.Fail.jsonata(this, 'FleetFailed', {
      error: '{% $states.input.Error %}',
      cause: '{% $states.input.Cause %}',
    });
    return this.submitWithFallback(
      'Fleet',
      props,
      { ...FLEET_JOB, ...(arraySize === undefined ? {} : { arraySize }) },
      failed,
    );
  }

  /**
   * Each alarmed line: its own job. A line whose job fails is recorded, not thrown (a failed iteration
   * would stop the others'); the execution fails after the Map when any line did.
   */
  private lineJobs(props: RecalibrationWorkflowProps): sfn.IChainable {
    const map = sfn.Map.jsonata(this, 'EachAlarmedLine', {
      items: sfn.ProvideItems.jsonata('{% $states.input.lines %}'),
      itemSelector: {
        line: '{% $states.context.Map.Item.Value %}',
        window: '{% $states.input.window %}',
      },
      maxConcurrency: 10,
    });
    const lineFailed = sfn.Pass.jsonata(this, 'LineFailed', {
      outputs: {
        lineId: '{% $states.input.line.lineId %}',
        failed: true,
        error: '{% $states.input.Error %}',
        cause: '{% $states.input.Cause %}',
      },
    });
    map.itemProcessor(this.submitWithFallback('Line', props, LINE_JOB, lineFailed));
    return map.next(
      sfn.Choice.jsonata(this, 'AnyLineFailed')
        .when(
          sfn.Condition.jsonata(LINE_RESULTS.anyFailed),
          sfn.Fail.jsonata(this, 'LinesFailed', { error: 'RecalibrationFailed', cause: LINE_RESULTS.cause }),
        )
        .otherwise(sfn.Succeed.jsonata(this, 'LinesDone')),
    );
  }

  /**
   * GPU first; a GPU job cancelled by its queue for want of capacity goes to the CPU queue; any other
   * failure fails the execution (which the job-failure alarm counts). With `compute: 'cpu'`, the CPU
   * queue only.
   */
  private submitWithFallback(
    id: string,
    props: RecalibrationWorkflowProps,
    job: { jobName: string; jobConfig: string; arraySize?: number },
    failed: sfn.IChainable,
  ): sfn.IChainable {
    const submit = (target: JobTarget, kind: 'Gpu' | 'Cpu') =>
      tasks.BatchSubmitJob.jsonata(this, `${id}${kind}Job`, {
        jobQueueArn: target.queue.jobQueueArn,
        jobDefinitionArn: target.definition.jobDefinitionArn,
        jobName: job.jobName,
        payload: sfn.TaskInput.fromObject({ jobConfig: job.jobConfig }),
        ...(job.arraySize === undefined ? {} : { arraySize: job.arraySize }),
        integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        outputs: { jobId: '{% $states.result.JobId %}', kind },
      });
    const cpu = submit(props.cpu, 'Cpu');
    cpu.addCatch(failed, { errors: ['States.ALL'] });
    if (props.compute === 'cpu') return cpu;
    const gpu = submit(props.gpu, 'Gpu');
    gpu.addCatch(
      sfn.Choice.jsonata(this, `${id}NoGpuCapacity`)
        .when(sfn.Condition.jsonata(`{% $contains($states.input.Cause, '${NO_GPU_CAPACITY_REASON}') %}`), cpu)
        .otherwise(failed),
      { errors: ['States.ALL'] },
    );
    return gpu;
  }
}

/** `yyyyMMddHHmmss` of an ISO instant, as cloud/batch/submit.ts names jobs. */
function stamp(instant: string): string {
  return `$replace($substring(${instant}, 0, 19), /[^0-9]/, '')`;
}
