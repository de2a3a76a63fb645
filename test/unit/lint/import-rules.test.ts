/**
 * The import boundaries of eslint.config.mjs (README "Layout") bite: each forbidden import is reported
 * with its house rule's message, and the imports each folder may make are not. The snippets are linted
 * with the repository's own config, in one child process (lint-snippets.mjs).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

interface LintMessage {
  ruleId: string | null;
  message: string;
  fatal: boolean;
}

/** The rules that carry the import boundaries (others, e.g. no-unused-vars, are not under test here). */
const BOUNDARY_RULES = new Set([
  '@typescript-eslint/no-restricted-imports',
  'no-restricted-syntax',
  'no-restricted-globals',
]);

const TWIN_OUTSIDE = 'twin/ is the pure core: it imports only from twin/';
const TWIN_NODE_IO = 'twin/ is the pure core, no I/O: no Node I/O module';
const TWIN_IO_PACKAGE = 'twin/ is the pure core, no I/O: no I/O package';
const TWIN_STATE = 'twin/ is the pure core: no mutable module state';
const TWIN_PROCESS = 'twin/ is the pure core, no I/O: no process';
const EDGE_NOT_CLOUD = 'edge-components/ never imports cloud/';
const CLOUD_NOT_EDGE = 'cloud/ never imports edge-components/';
const DEV_ONLY =
  'production code (twin/, platform/, edge-components/, cloud/) never imports simulators/, test/, cli/ or scripts/';
const PLATFORM = 'platform/ is shared by edge and cloud: it imports only twin/ and packages';
const INFRA_DEV_ONLY = 'cloud/infra/ (the CDK app) imports scripts/ (the component packaging) but never';
const NOT_INFRA = 'only cloud/infra/ itself (and test/) imports cloud/infra/';
const CDK_PACKAGES = 'only cloud/infra/ (the CDK app) imports aws-cdk-lib, constructs or cdk-nag';

/** [file the snippet is linted as, snippet, the house rule it breaks (null: allowed)]. */
type Case = [string, string, string | null];

const forbidden: Case[] = [
  // twin/: nothing outside twin/, whatever the depth and the kind of import.
  ['twin/x.ts', "import pkg from '../package.json';\nexport default pkg;", TWIN_OUTSIDE],
  ['twin/x.ts', "import '..';", TWIN_OUTSIDE],
  ['twin/lines/x.ts', "import '../../platform/line-file';", TWIN_OUTSIDE],
  ['twin/lines/x.ts', "export { loadLineFrom } from '../../platform/line-file';", TWIN_OUTSIDE],
  ['twin/estimation/smc/x.ts', "import '../../../cloud/calibration-job/job';", TWIN_OUTSIDE],
  ['twin/estimation/smc/x.ts', "import './../../../edge-components/shared/lines';", TWIN_OUTSIDE],
  [
    'twin/model/x.ts',
    "import type { Scenario } from '../../simulators/plant/scenario';\nexport type S = Scenario;",
    TWIN_OUTSIDE,
  ],
  ['twin/x.ts', "import '../test/unit/twin/calibration/manifest-fixtures';", TWIN_OUTSIDE],
  ['twin/x.ts', "import '../cli/main';", TWIN_OUTSIDE],
  ['twin/x.ts', "import '../scripts/package-components';", TWIN_OUTSIDE],
  ['twin/x.ts', "export const m = import('../cloud/batch/submit');", TWIN_OUTSIDE],
  ['twin/x.ts', "export const m = require('../simulators/plant/scenario');", TWIN_OUTSIDE],
  // twin/: no Node I/O module, however imported.
  ...[
    'node:fs',
    'fs',
    'fs/promises',
    'node:fs/promises',
    'net',
    'http',
    'https',
    'node:child_process',
    'worker_threads',
    'dgram',
    'tls',
    'readline',
    'node:process',
    'node:os',
    'node:timers',
  ].map((m): Case => ['twin/lines/x.ts', `import '${m}';`, TWIN_NODE_IO]),
  ['twin/x.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;", TWIN_NODE_IO],
  ['twin/x.ts', "import type { Stats } from 'node:fs';\nexport type S = Stats;", TWIN_NODE_IO],
  ['twin/x.ts', "import fs = require('node:fs');\nexport const f = fs;", TWIN_NODE_IO],
  ['twin/x.ts', "export const fs = require('node:fs');", TWIN_NODE_IO],
  ['twin/x.ts', "export const fs = import('fs/promises');", TWIN_NODE_IO],
  ['twin/x.ts', "export type Fs = typeof import('node:fs');", TWIN_NODE_IO],
  // twin/: no I/O package.
  ...[
    'better-sqlite3',
    'mqtt',
    'aedes',
    '@aws-sdk/client-s3',
    'aws-iot-device-sdk-v2',
    'gpu.js',
    'commander',
    'cli-progress',
  ].map((m): Case => ['twin/estimation/x.ts', `import '${m}';`, TWIN_IO_PACKAGE]),
  ['twin/x.ts', "export const s3 = require('@aws-sdk/client-s3');", TWIN_IO_PACKAGE],
  // The FMI runtime's native and archive packages stay out of the pure core; so does the runtime.
  ...['koffi', 'yauzl', 'yazl'].map((m): Case => ['twin/model/x.ts', `import '${m}';`, TWIN_IO_PACKAGE]),
  ['twin/model/x.ts', "import '../../platform/fmi';", TWIN_OUTSIDE],
  // twin/: no mutable module state, no process.
  ['twin/x.ts', 'export let lastIterations = 0;', TWIN_STATE],
  ['twin/model/x.ts', 'let calls = 0;\nexport function f(): number {\n  return ++calls;\n}', TWIN_STATE],
  ['twin/model/x.ts', 'var calls = 0;\nexport function f(): number {\n  return ++calls;\n}', TWIN_STATE],
  ['twin/x.ts', 'export const level = process.env.LEVEL;', TWIN_PROCESS],
  // edge-components/ and cloud/ never import each other.
  ['edge-components/estimator/x.ts', "import '../../cloud/calibration-job/job';", EDGE_NOT_CLOUD],
  [
    'edge-components/x.ts',
    "import type { JobConfig } from '../cloud/calibration-job/config';\nexport type C = JobConfig;",
    EDGE_NOT_CLOUD,
  ],
  [
    'edge-components/shared/x.ts',
    "export const job = require('../../cloud/calibration-job/job');",
    EDGE_NOT_CLOUD,
  ],
  ['cloud/calibration-job/x.ts', "import '../../edge-components/store/outbox';", CLOUD_NOT_EDGE],
  ['cloud/batch/x.ts', "export { Outbox } from '../../edge-components/store/outbox';", CLOUD_NOT_EDGE],
  [
    'cloud/calibration-job/io/x.ts',
    "export const o = import('../../../edge-components/store/outbox');",
    CLOUD_NOT_EDGE,
  ],
  // Production code never imports simulators/, test/, cli/, scripts/.
  ...[
    'simulators/plant/plant-simulator',
    'test/fault/mqtt-rig',
    'cli/main',
    'scripts/package-components',
  ].flatMap((target): Case[] => [
    ['edge-components/ingest/x.ts', `import '../../${target}';`, DEV_ONLY],
    ['cloud/batch/x.ts', `import '../../${target}';`, DEV_ONLY],
  ]),
  [
    'cloud/calibration-job/x.ts',
    "import type { Scenario } from '../../simulators/plant/scenario';\nexport type S = Scenario;",
    DEV_ONLY,
  ],
  // platform/: twin/ and packages only.
  ...[
    'edge-components/shared/config',
    'cloud/batch/submit',
    'simulators/sitewise/server',
    'test/fault/mqtt-rig',
    'cli/main',
    'scripts/package-components',
  ].map((target): Case => ['platform/x.ts', `import '../${target}';`, PLATFORM]),
  [
    'platform/sitewise/x.ts',
    "import type { Outbox } from '../../edge-components/store/outbox';\nexport type O = Outbox;",
    PLATFORM,
  ],
  ['platform/x.ts', "export const c = require('../cloud/batch/submit');", PLATFORM],
  // The FMI runtime is shared (platform/fmi/); the FMU plant lives in simulators/ and stays there.
  ['platform/fmi/x.ts', "import '../../simulators/fmi/plant';", PLATFORM],
  ['cloud/calibration-job/x.ts', "import '../../simulators/fmi/plant';", DEV_ONLY],
  // The CDK app: deployment code stays in cloud/infra/.
  ...['aws-cdk-lib', 'aws-cdk-lib/aws-batch', 'constructs', 'cdk-nag'].flatMap((m): Case[] => [
    ['cloud/calibration-job/x.ts', `import '${m}';`, CDK_PACKAGES],
    ['cloud/dashboards/x.ts', `export const m = require('${m}');`, CDK_PACKAGES],
    ['edge-components/publisher/x.ts', `import '${m}';`, CDK_PACKAGES],
    ['platform/x.ts', `import '${m}';`, CDK_PACKAGES],
  ]),
  ['twin/x.ts', "import 'aws-cdk-lib';", TWIN_IO_PACKAGE],
  ['cloud/calibration-job/x.ts', "import '../infra/lib/app';", NOT_INFRA],
  ['cloud/batch/x.ts', "export const app = import('../infra/lib/selfcal-stack');", NOT_INFRA],
  ['edge-components/x.ts', "import '../cloud/infra/lib/app';", EDGE_NOT_CLOUD],
  ['cloud/infra/lib/x.ts', "import '../../../edge-components/store/outbox';", CLOUD_NOT_EDGE],
  ...['simulators/plant/plant-simulator', 'test/fault/mqtt-rig', 'cli/main'].map((target): Case => [
    'cloud/infra/lib/constructs/x.ts',
    `import '../../../../${target}';`,
    INFRA_DEV_ONLY,
  ]),
];

const allowed: Case[] = [
  ['twin/x.ts', "import './errors';", null],
  [
    'twin/lines/x.ts',
    "import '../errors';\nimport './load';\nimport drawWebLine from './draw-web-line.json';\nexport default drawWebLine;",
    null,
  ],
  [
    'twin/estimation/smc/x.ts',
    "import '../../lines/topology';\nimport type { LineTopology } from '../../lines/topology';\nexport type T = LineTopology;",
    null,
  ],
  [
    'twin/calibration/x.ts',
    "import { createHash } from 'node:crypto';\nimport { sign } from 'crypto';\nexport const h = [createHash, sign];",
    null,
  ],
  [
    'twin/x.ts',
    "import Ajv from 'ajv';\nimport { canonicalize } from 'json-canonicalize';\nimport 'pure-rand/generator/xoroshiro128plus';\nexport const a = [Ajv, canonicalize];",
    null,
  ],
  [
    'twin/x.ts',
    'const TABLE = [1, 2];\nexport const SIZE = 3;\nexport function f(): number {\n  let n = 0;\n  for (const t of TABLE) n += t;\n  return n;\n}',
    null,
  ],
  [
    'platform/x.ts',
    "import '../twin/lines/topology';\nimport './retry';\nimport 'node:fs';\nimport '@aws-sdk/client-iotsitewise';",
    null,
  ],
  ['platform/sitewise/x.ts', "import '../../twin/errors';", null],
  [
    'platform/fmi/x.ts',
    "import 'koffi';\nimport 'yauzl';\nimport 'fast-xml-parser';\nimport '../config';\nimport '../../twin/errors';",
    null,
  ],
  // Both FMU roles use the runtime: the calibration job (FMU as model) and the simulators (FMU as plant).
  ['cloud/calibration-job/x.ts', "import '../../platform/fmi';\nimport '../../platform/fmi/settle';", null],
  ['edge-components/estimator/x.ts', "import '../../platform/fmi/model-description';", null],
  ['simulators/fmi/x.ts', "import '../../platform/fmi';", null],
  [
    'edge-components/estimator/x.ts',
    "import '../../twin/lines/topology';\nimport '../../platform/line-file';\nimport '../shared/config';\nimport 'better-sqlite3';\nimport 'node:fs';",
    null,
  ],
  [
    'cloud/calibration-job/x.ts',
    "import '../../twin/lines/topology';\nimport '../../platform/line-file';\nimport '../batch/submit';\nimport '@aws-sdk/client-batch';\nimport 'gpu.js';",
    null,
  ],
  [
    'cloud/infra/lib/x.ts',
    "import 'aws-cdk-lib';\nimport 'cdk-nag';\nimport '../../../scripts/package-components';\nimport '../../batch/job-definition';\nimport '../../dashboards/grafana-dashboard';\nimport '../../../twin/properties';\nimport './fleet';",
    null,
  ],
  // cli/, scripts/, test/ and simulators/ are not restricted: cli/ and scripts/ launch simulators on purpose.
  [
    'cli/x.ts',
    "import '../simulators/plant/plant-simulator';\nimport '../cloud/batch/submit';\nimport '../edge-components/store/outbox';",
    null,
  ],
  [
    'scripts/x.ts',
    "import '../simulators/greengrass/nucleus';\nimport '../edge-components/shared/config';",
    null,
  ],
  [
    'simulators/batch/x.ts',
    "import '../../cloud/calibration-job/job';\nimport '../../edge-components/store/outbox';",
    null,
  ],
  [
    'test/unit/x.ts',
    "import '../../simulators/plant/plant-simulator';\nimport '../../cloud/batch/submit';\nimport 'node:fs';",
    null,
  ],
];

const cases = [...forbidden, ...allowed];
let results: LintMessage[][] = [];

beforeAll(() => {
  const input = JSON.stringify(cases.map(([filePath, code]) => ({ filePath, code: `${code}\n` })));
  const out = execFileSync(process.execPath, [join(__dirname, 'lint-snippets.mjs')], {
    input,
    encoding: 'utf8',
  });
  results = JSON.parse(out) as LintMessage[][];
}, 60000);

describe('import boundaries (eslint.config.mjs)', () => {
  it.each(cases.map(([file, code, rule], i) => [file, code.split('\n')[0], rule ?? 'allowed', i] as const))(
    '%s: %s (%s)',
    (_file, _firstLine, _rule, i) => {
      const rule = cases[i]?.[2];
      const messages = results[i] as LintMessage[];
      expect(messages.filter((m) => m.fatal)).toEqual([]);
      const boundary = messages.filter((m) => m.ruleId !== null && BOUNDARY_RULES.has(m.ruleId));
      if (rule === null) {
        expect(boundary).toEqual([]);
      } else {
        // Exactly one report, the house rule's (one import, one error: no overlapping patterns).
        expect(boundary).toHaveLength(1);
        expect(boundary[0]?.message).toContain(`house rule: ${rule}`);
      }
    },
  );
});
