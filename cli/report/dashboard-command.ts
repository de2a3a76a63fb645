/** `selfcal dashboard`: the options, then startDashboard (cli/report/dashboard.ts) until SIGTERM/SIGINT. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { untilStopSignal } from '../../edge-components/shared/lifecycle';
import { createLogger } from '../../platform/logger';
import { withAwsOptions, type CliLogLevel } from '../aws-options';
import { DEFAULT_POLL_S, startDashboard } from './dashboard';

const UNIT_S: Record<string, number> = { m: 60, h: 3600, d: 86_400 };

/** `30m`, `12h`, `7d` → seconds. */
export function parseDuration(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)([mhd])$/.exec(raw.trim());
  if (!m) throw new InvalidArgumentError(`'${raw}' is not a duration like 30m, 12h or 7d.`);
  return Number(m[1]) * (UNIT_S[m[2] as string] as number);
}

interface DashboardCliOptions {
  sitewise?: string;
  line: string;
  aliasTemplate?: string;
  port: number;
  region?: string;
  profile?: string;
  endpoint?: string;
  range: number;
  poll: number;
  logLevel: CliLogLevel;
}

export function registerDashboardCommand(
  program: Command,
  io: { stdout: (text: string) => void },
  portOption: (defaultPort: number) => Option,
): void {
  const command = program
    .command('dashboard')
    .description(
      "serve a live dashboard of a line's SiteWise history on 127.0.0.1 (tensions vs virtual sensors, b posteriors, health) until SIGTERM/SIGINT",
    )
    .option(
      '--sitewise <url>',
      'SiteWise endpoint, e.g. the emulator (default: the AWS service, default credential chain)',
    )
    .requiredOption('--line <id|path>', 'shipped line id or path to a line description JSON')
    .option(
      '--alias-template <t>',
      'property alias template ({lineId}, {signal})',
      '/selfcal/{lineId}/{signal}',
    )
    .addOption(portOption(0))
    .addOption(
      new Option('--range <duration>', 'history shown, ending now: 30m, 12h, 7d')
        .argParser(parseDuration)
        .default(7 * 86_400, '7d'),
    )
    .addOption(
      new Option('--poll <s>', 'seconds between the page updates')
        .argParser((raw) => {
          const v = Number(raw);
          if (!Number.isInteger(v) || v < 1 || v > 3600)
            throw new InvalidArgumentError(`'${raw}' is not an integer in [1, 3600].`);
          return v;
        })
        .default(DEFAULT_POLL_S),
    );
  withAwsOptions(command, 'SiteWise (same as --sitewise)', 'info').action(async (o: DashboardCliOptions) => {
    const logger = createLogger({ component: 'dashboard', level: o.logLevel, sink: io.stdout });
    const dashboard = await startDashboard({
      line: o.line,
      sitewise: o.sitewise ?? o.endpoint,
      aliasTemplate: o.aliasTemplate,
      port: o.port,
      region: o.region,
      profile: o.profile,
      rangeS: o.range,
      pollS: o.poll,
      logger,
    });
    const signal = await untilStopSignal();
    await dashboard.close();
    logger.info('stopped', { signal });
  });
}
