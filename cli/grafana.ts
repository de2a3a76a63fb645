/**
 * `selfcal grafana --line ID`: writes the Grafana dashboard of a line (the pure generator is
 * cloud/dashboards/grafana-dashboard.ts, which the CDK app imports too).
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { grafanaDashboard } from '../cloud/dashboards/grafana-dashboard';
import { loadLineFrom } from '../platform/line-file';
import { DEFAULT_ALIAS_TEMPLATE } from '../platform/sitewise/aliases';
import { SelfcalError } from '../twin/errors';

interface GrafanaCliOptions {
  line: string;
  out?: string;
  aliasTemplate: string;
  datasourceUid?: string;
  region?: string;
}

export function registerGrafanaCommand(program: Command, io: { stdout: (text: string) => void }): void {
  program
    .command('grafana')
    .description(
      'write a Grafana dashboard (JSON) of a line for the AWS IoT SiteWise data source plugin: tensions, frictions, health, fit',
    )
    .requiredOption('--line <id|path>', 'shipped line id or path to a line description JSON')
    .option('--out <file>', 'dashboard JSON file to write (default: stdout)')
    .option(
      '--alias-template <template>',
      'SiteWise property alias template ({lineId}, {signal}), as the publisher and the job use it',
      DEFAULT_ALIAS_TEMPLATE,
    )
    .option('--datasource-uid <uid>', "the SiteWise data source's uid (default: chosen on import)")
    .option('--region <region>', "AWS region of the queries (default: the data source's default region)")
    .action((o: GrafanaCliOptions) => {
      if (!o.aliasTemplate.includes('{signal}')) {
        throw new SelfcalError(
          'CLI_ARGUMENT_INVALID',
          `--alias-template '${o.aliasTemplate}' has no {signal}: every property would get the same alias`,
        );
      }
      const dashboard = grafanaDashboard(loadLineFrom(o.line), {
        aliasTemplate: o.aliasTemplate,
        ...(o.datasourceUid === undefined ? {} : { datasourceUid: o.datasourceUid }),
        ...(o.region === undefined ? {} : { region: o.region }),
      });
      const text = `${JSON.stringify(dashboard, null, 2)}\n`;
      if (o.out === undefined) {
        io.stdout(text);
        return;
      }
      try {
        writeFileSync(o.out, text);
      } catch (cause) {
        throw new SelfcalError(
          'CLI_ARGUMENT_INVALID',
          `--out ${o.out}: cannot write the file (${(cause as Error).message})`,
          { cause },
        );
      }
    });
}
