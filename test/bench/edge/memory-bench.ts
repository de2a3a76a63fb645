/**
 * Memory at a nominal rate: a fresh ingest and a fresh publisher (each its own process, as deployed) run
 * side by side on the outbox with its backlog — telemetry arriving at `messagesPerSecond`, the publisher
 * at its values/s budget — while /proc/<pid>/status is sampled for both.
 */
import { pacedLoad, startIngestSession, type MessageSource } from './ingest-bench';
import { progress, round1, sampleMemory } from './proc';
import { outboxReader, publisherTotals, spawnPublisher } from './publisher-bench';

export async function runNominalMemory(o: {
  dbPath: string;
  workDir: string;
  endpoint: string;
  source: MessageSource;
  /** Index of the first message to send (event times must not repeat earlier ones). */
  from: number;
  messagesPerSecond: number;
  publisherValuesPerSecond: number;
  seconds: number;
  synchronous: 'FULL' | 'NORMAL';
}) {
  const outbox = outboxReader(o.dbPath);
  const backlogAtStart = outbox.backlog();
  const session = await startIngestSession({
    dbPath: o.dbPath,
    synchronous: o.synchronous,
    clientId: 'bench-ingest-nominal',
  }).catch((error: unknown) => {
    outbox.close();
    throw error;
  });
  const publisher = spawnPublisher({
    ...o,
    valuesPerSecond: o.publisherValuesPerSecond,
    name: 'publisher-nominal',
  });
  try {
    await publisher.ready;
    const ingestMemory = sampleMemory(session.ingest.child.pid as number);
    const publisherMemory = sampleMemory(publisher.child.pid as number);
    const cursor0 = outbox.cursor();
    const acked0 = session.acked();
    progress(
      `memory: ${o.messagesPerSecond} messages/s in, publisher at ${o.publisherValuesPerSecond} values/s, ` +
        `backlog ${backlogAtStart}, ${o.seconds} s`,
    );
    const sent = await pacedLoad(session, o.source, o.from, o.messagesPerSecond, o.seconds);
    await session.whenAcked(acked0 + sent, 30_000);
    const ingestMem = ingestMemory.stop();
    const publisherMem = publisherMemory.stop();
    const published = outbox.cursor() - cursor0;
    const backlogAtEnd = outbox.backlog();
    const publisherExit = await publisher.stop();
    const ingestExit = await session.close();
    const sumPeak = ingestMem.peakRssMb + publisherMem.peakRssMb;
    return {
      messages: sent,
      messagesPerSecond: o.messagesPerSecond,
      readingsPerSecondIn: o.messagesPerSecond * o.source.signals.length,
      publisherValuesPerSecondBudget: o.publisherValuesPerSecond,
      valuesPublished: published,
      seconds: o.seconds,
      backlogAtStart,
      backlogAtEnd,
      ingest: { ...ingestMem, exitCodeAfterSigterm: ingestExit },
      publisher: { ...publisherMem, exitCodeAfterSigterm: publisherExit, totals: publisherTotals(publisher) },
      sumOfPeaksMb: round1(sumPeak),
      sumOfMediansMb: round1(ingestMem.medianRssMb + publisherMem.medianRssMb),
      /**
       * The pair's own memory, shared pages counted once: both private sets plus the larger mapped-file set
       * (the same node binary and native addon back both processes).
       */
      /** Sum of the two processes' proportional set sizes (shared pages split between sharers). */
      combinedPssMedianMb: round1(ingestMem.medianPssMb + publisherMem.medianPssMb),
      combinedPssMaxMb: round1(ingestMem.maxSampledPssMb + publisherMem.maxSampledPssMb),
      combinedMedianEstimateMb: round1(
        ingestMem.medianAnonMb +
          publisherMem.medianAnonMb +
          Math.max(ingestMem.medianFileMb, publisherMem.medianFileMb),
      ),
    };
  } finally {
    await publisher.stop();
    await session.close();
    outbox.close();
  }
}
