import type { JsonObject, PubSub } from '../runtime/contract';
import type { Logger } from '../../platform/logger';
import { cloudDriftTopic, localDriftTopic } from '../../twin/alarm-topics';

export { cloudDriftTopic, localDriftTopic } from '../../twin/alarm-topics';

interface PendingAlarm {
  topic: string;
  message: JsonObject;
}

interface Target {
  name: 'local' | 'cloud';
  pubsub: PubSub;
  topicFor: (lineId: string) => string;
  queue: PendingAlarm[];
  retryAtMs: number;
}

export interface AlarmPublisherOptions {
  local?: PubSub;
  cloud?: PubSub;
  thingName: string;
  retryMs: number;
  maxPending: number;
  logger: Logger;
  clock?: () => number;
}

/**
 * Publishes drift alarms to the local bus and the cloud, each with its own queue: a target that fails
 * (no cloud for a week) keeps its messages in order and is tried again after `retryMs`, while estimation
 * goes on — `enqueue` never waits, and `flush` is never awaited by the estimation path.
 */
export class AlarmPublisher {
  private readonly targets: Target[] = [];
  private readonly clock: () => number;
  private flushing: Promise<void> | undefined;
  readonly counts = { published: 0, failedAttempts: 0, dropped: 0 };

  constructor(private readonly options: AlarmPublisherOptions) {
    this.clock = options.clock ?? Date.now;
    if (options.local) this.targets.push(target('local', options.local, localDriftTopic));
    if (options.cloud)
      this.targets.push(target('cloud', options.cloud, (id) => cloudDriftTopic(options.thingName, id)));
  }

  enqueue(lineId: string, message: JsonObject): void {
    for (const t of this.targets) {
      t.queue.push({ topic: t.topicFor(lineId), message });
      if (t.queue.length > this.options.maxPending) {
        t.queue.shift();
        this.counts.dropped += 1;
        this.options.logger.warn('alarm queue full; oldest alarm message dropped', { target: t.name });
      }
    }
  }

  pending(): number {
    return this.targets.reduce((n, t) => n + t.queue.length, 0);
  }

  /** Try every target whose retry time has come; one flush at a time (a second call joins the first). */
  flush(): Promise<void> {
    this.flushing ??= this.flushTargets().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async flushTargets(): Promise<void> {
    await Promise.all(this.targets.map((t) => this.flushTarget(t)));
  }

  private async flushTarget(t: Target): Promise<void> {
    if (this.clock() < t.retryAtMs) return;
    while (t.queue.length > 0) {
      const next = t.queue[0] as PendingAlarm;
      try {
        await t.pubsub.publish(next.topic, next.message);
      } catch (error) {
        this.counts.failedAttempts += 1;
        t.retryAtMs = this.clock() + this.options.retryMs;
        this.options.logger.warn('alarm publish failed; will retry', {
          target: t.name,
          topic: next.topic,
          pending: t.queue.length,
          retryInMs: this.options.retryMs,
          error,
        });
        return;
      }
      t.queue.shift();
      this.counts.published += 1;
    }
  }
}

function target(name: Target['name'], pubsub: PubSub, topicFor: (lineId: string) => string): Target {
  return { name, pubsub, topicFor, queue: [], retryAtMs: 0 };
}
