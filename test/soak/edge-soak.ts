/**
 * Soak of the edge ingest's PUBACK-after-commit guarantee: the crash scenarios of the fault suite
 * (SIGKILL of the ingest, cuts of its broker connection) run back to back with the CPU saturated, against
 * aedes and mosquitto in turn, for as long as asked. Not part of `npm test`.
 *
 *   npm run soak -- [--minutes 30] [--kills 20] [--drops 40] [--rate 500] [--no-load] [--broker aedes|mosquitto]
 *
 * One JSON line per run on stdout, then the totals; exits 1 if any run lost a PUBACKed reading or sent a
 * PUBACK before its commit.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { findMosquitto } from '../../simulators/broker/mosquitto';
import {
  runCrashScenario,
  type CrashBroker,
  type CrashOutcome,
} from '../unit/edge-components/ingest/crash-harness';

const positive = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
};
const count = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be an integer >= 0');
  return n;
};

const options = new Command('soak')
  .description('edge ingest faults under CPU load, for a set time')
  .option('--minutes <m>', 'how long to keep starting runs', positive, 30)
  .option('--kills <n>', 'ingest SIGKILLs per run', count, 20)
  .option('--drops <n>', 'connection cuts per run', count, 40)
  .option('--rate <n>', 'messages per second offered', positive, 500)
  .option('--seed <n>', 'seed of the first run', count, 1)
  .option('--no-load', 'leave the CPU idle')
  .addOption(new Option('--broker <name>', 'only this broker').choices(['aedes', 'mosquitto']))
  .parse()
  .opts<{
    minutes: number;
    kills: number;
    drops: number;
    rate: number;
    seed: number;
    load: boolean;
    broker?: CrashBroker;
  }>();

const brokers: CrashBroker[] =
  options.broker !== undefined
    ? [options.broker]
    : findMosquitto() === undefined
      ? ['aedes']
      : ['aedes', 'mosquitto'];
if (options.broker === undefined && brokers.length === 1)
  console.error('mosquitto is not installed: aedes only');

interface Totals {
  runs: number;
  violations: number;
  kills: number;
  drops: number;
  pubacked: number;
  ingestAcksObserved: number;
  ingestAcksBeforeCommit: number;
  missing: number;
  duplicates: number;
  packetIdsReassigned: number;
}

const violates = (o: CrashOutcome): boolean =>
  (o.ingestAcksBeforeCommit ?? 0) > 0 || o.missing > 0 || o.found !== o.published || o.sigtermExitCode !== 0;

async function main(): Promise<number> {
  const totals = zero();
  const byBroker: Record<string, Totals> = {};
  const endAt = Date.now() + options.minutes * 60_000;
  for (let run = 0; Date.now() < endAt; run++) {
    const broker = brokers[run % brokers.length] as CrashBroker;
    const outcome = await runCrashScenario({
      kills: options.kills,
      drops: options.drops,
      seed: options.seed + run,
      broker,
      cpuLoad: options.load,
      ratePerS: options.rate,
    });
    const bad = violates(outcome);
    console.log(JSON.stringify({ run, ok: !bad, ...outcome }));
    for (const t of [totals, (byBroker[broker] ??= zero())]) {
      t.runs += 1;
      t.violations += bad ? 1 : 0;
      t.kills += outcome.kills;
      t.drops += outcome.drops;
      t.pubacked += outcome.pubacked;
      t.ingestAcksObserved += outcome.ingestAcks ?? 0;
      t.ingestAcksBeforeCommit += outcome.ingestAcksBeforeCommit ?? 0;
      t.missing += outcome.missing;
      t.duplicates += outcome.duplicates;
      t.packetIdsReassigned += outcome.packetIdsReassigned ?? 0;
    }
    const left = Math.max(0, Math.round((endAt - Date.now()) / 1000));
    console.error(`soak: run ${run + 1} (${broker}) ${bad ? 'VIOLATION' : 'ok'}; ${left} s left`);
  }
  console.log(JSON.stringify({ totals, byBroker, cpuLoad: options.load, minutes: options.minutes }));
  return totals.violations === 0 ? 0 : 1;
}

function zero(): Totals {
  return {
    runs: 0,
    violations: 0,
    kills: 0,
    drops: 0,
    pubacked: 0,
    ingestAcksObserved: 0,
    ingestAcksBeforeCommit: 0,
    missing: 0,
    duplicates: 0,
    packetIdsReassigned: 0,
  };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
