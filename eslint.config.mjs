import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// ---------------------------------------------------------------------------------------------------
// Import boundaries (README "Layout"). Who may import whom:
//   twin/            the pure core: only twin/ itself, computation-only builtins and pure packages
//   platform/        code edge and cloud share: twin/ and packages
//   edge-components/ twin/, platform/, packages; never cloud/
//   cloud/           twin/, platform/, packages; never edge-components/
//   cloud/infra/     the CDK app: as cloud/, plus scripts/ (it packages the edge components as
//                    `npm run package` does); the only place (with test/) that imports cloud/infra/ or
//                    the CDK packages (aws-cdk-lib, constructs, cdk-nag), so that the job image and the
//                    edge bundles never carry them
//   simulators/, cli/, scripts/, test/  unrestricted (cli/ and scripts/ launch simulators on purpose)
// Production folders (twin, platform, edge-components, cloud) never import simulators/, test/, cli/ or
// scripts/ (cloud/infra/ excepted for scripts/). Each restriction is a regular expression on the import specifier; it is applied to `import`
// and `import type`, `export … from`, `import x = require()` (no-restricted-imports) and to `require()`,
// `import()` and `typeof import()` types (no-restricted-syntax selectors built from the same expression).
// ---------------------------------------------------------------------------------------------------

/**
 * A relative specifier that goes through one of the top-level project `folders` (matched as any path
 * segment: no folder below the top level bears one of these names).
 */
const intoFolder = (...folders) => new RegExp(`^\\.\\.?/(?:.*/)?(?:${folders.join('|')})(?:/|$)`);

const DEV_ONLY = {
  regex: intoFolder('simulators', 'test', 'cli', 'scripts'),
  message:
    'house rule: production code (twin/, platform/, edge-components/, cloud/) never imports simulators/, test/, cli/ or scripts/ (no test-only hooks in production code).',
};
const EDGE_NOT_CLOUD = {
  regex: intoFolder('cloud'),
  message:
    'house rule: edge-components/ never imports cloud/ (they deploy separately); shared code belongs in platform/ or twin/.',
};
const CLOUD_NOT_EDGE = {
  regex: intoFolder('edge-components'),
  message:
    'house rule: cloud/ never imports edge-components/ (they deploy separately); shared code belongs in platform/ or twin/.',
};
const INFRA_DEV_ONLY = {
  regex: intoFolder('simulators', 'test', 'cli'),
  message:
    'house rule: cloud/infra/ (the CDK app) imports scripts/ (the component packaging) but never simulators/, test/ or cli/.',
};
const NOT_INFRA = {
  regex: intoFolder('infra'),
  message:
    'house rule: only cloud/infra/ itself (and test/) imports cloud/infra/: the job, the edge and the core never carry deployment code.',
};
/** The CDK packages: deployment tooling, for cloud/infra/ (and test/) only. */
const CDK_PACKAGE_NAMES = ['aws-cdk-lib', 'aws-cdk', 'constructs', 'cdk-nag'];
const CDK_PACKAGES = {
  regex: new RegExp(`^(?:${CDK_PACKAGE_NAMES.join('|')})(?:/|$)`),
  message:
    'house rule: only cloud/infra/ (the CDK app) imports aws-cdk-lib, constructs or cdk-nag: the job image and the edge bundles never carry them.',
};
const PLATFORM_ONLY_TWIN = {
  regex: intoFolder('edge-components', 'cloud', 'simulators', 'test', 'cli', 'scripts'),
  message:
    'house rule: platform/ is shared by edge and cloud: it imports only twin/ and packages, never edge-components/, cloud/, simulators/, test/, cli/ or scripts/.',
};

/** Builtins the pure core may use: computation only (the manifest signing needs node:crypto). */
const PURE_BUILTINS = new Set([
  'assert',
  'assert/strict',
  'buffer',
  'crypto',
  'string_decoder',
  'util',
  'util/types',
]);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const IO_BUILTINS = builtinModules.filter((m) => !m.startsWith('_') && !PURE_BUILTINS.has(m));
const TWIN_NO_NODE_IO = {
  regex: new RegExp(`^(?:node:)?(?:${IO_BUILTINS.map(escape).join('|')})$`),
  message: `house rule: twin/ is the pure core, no I/O: no Node I/O module (fs, net, http, child_process, worker_threads, process, timers…); only ${[...PURE_BUILTINS].join(', ')}. Do the I/O in platform/ or at the program's edge.`,
};
/** Packages that do I/O (storage, network, devices, AWS, GPU, terminal) or build/run the program. */
const IO_PACKAGES = [
  'better-sqlite3',
  'mqtt',
  'aedes',
  '@aws-sdk/.+',
  '@aws-crypto/.+',
  '@smithy/.+',
  'aws-iot-device-sdk-v2',
  'aws-crt',
  'gpu.js',
  'webgpu',
  'commander',
  'cli-progress',
  'csv-parse',
  'koffi',
  'yauzl',
  'yazl',
  'tsx',
  'esbuild',
  ...CDK_PACKAGE_NAMES,
];
const TWIN_NO_IO_PACKAGES = {
  regex: new RegExp(`^(?:${IO_PACKAGES.map((p) => escape(p).replace('\\.\\+', '.+')).join('|')})(?:/|$)`),
  message:
    "house rule: twin/ is the pure core, no I/O: no I/O package (better-sqlite3, mqtt, aedes, @aws-sdk/*, aws-iot-device-sdk-v2, gpu.js, commander, cli-progress, csv-parse, koffi, yauzl…). Do the I/O in platform/ or at the program's edge.",
};
/** A relative specifier that leaves twin/ from a file `depth` folders below the repository root. */
const twinClimbOut = (depth) => ({
  regex: new RegExp(`^(?:\\./)?(?:\\.\\./){${depth - 1}}\\.\\.(?:/|$)`),
  message:
    'house rule: twin/ is the pure core: it imports only from twin/ (platform/, edge-components/, cloud/ and the tools build on it, not the other way round).',
});
const TWIN_NO_MODULE_STATE = [
  'Program > VariableDeclaration[kind=/^(let|var)$/]',
  'Program > ExportNamedDeclaration > VariableDeclaration[kind=/^(let|var)$/]',
].map((selector) => ({
  selector,
  message:
    'house rule: twin/ is the pure core: no mutable module state (top-level let/var); return the value, or pass state explicitly.',
}));

/** The selectors that apply one restriction to `require()`, `import()` and `typeof import()`. */
const dynamicImportSelectors = ({ regex, message }) => {
  const re = `/${regex.source}/`;
  return [
    `CallExpression[callee.type='Identifier'][callee.name='require'][arguments.0.value=${re}]`,
    `ImportExpression[source.value=${re}]`,
    `TSImportType[source.value=${re}]`,
  ].map((selector) => ({ selector, message }));
};

/** One config block: `files` may import nothing that `restrictions` name. */
const boundary = (files, restrictions, extraSyntax = []) => ({
  files,
  rules: {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        patterns: restrictions.map(({ regex, message }) => ({
          regex: regex.source,
          caseSensitive: true,
          message,
        })),
      },
    ],
    'no-restricted-syntax': ['error', ...restrictions.flatMap(dynamicImportSelectors), ...extraSyntax],
  },
});

/**
 * twin/ at each depth: a relative import leaves twin/ with as many `../` as the file is deep. The last
 * block takes every deeper file too (conservatively: as if it were MAX_TWIN_DEPTH deep).
 */
const MAX_TWIN_DEPTH = 8;
const twinBlocks = Array.from({ length: MAX_TWIN_DEPTH }, (_, i) => {
  const depth = i + 1;
  const files = [
    depth < MAX_TWIN_DEPTH ? `twin/${'*/'.repeat(depth - 1)}*` : `twin/${'*/'.repeat(depth - 1)}**/*`,
  ];
  return boundary(files, [twinClimbOut(depth), TWIN_NO_NODE_IO, TWIN_NO_IO_PACKAGES], TWIN_NO_MODULE_STATE);
});

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'coverage/',
      'bench-results/',
      'artifacts/',
      'validation-results/',
      '.device/',
      'cdk.out/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // Plain CommonJS launcher.
    files: ['**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The browser-side drawing code of the report and the dashboard (inlined into their pages).
    files: ['cli/report/charts.js'],
    languageOptions: { sourceType: 'script', globals: { window: 'readonly', document: 'readonly' } },
  },
  ...twinBlocks,
  {
    files: ['twin/**'],
    rules: {
      'no-restricted-globals': [
        'error',
        {
          name: 'process',
          message:
            'house rule: twin/ is the pure core, no I/O: no process (env, argv, stdio, exit); pass values in.',
        },
      ],
    },
  },
  boundary(['platform/**'], [PLATFORM_ONLY_TWIN, CDK_PACKAGES]),
  boundary(['edge-components/**'], [EDGE_NOT_CLOUD, DEV_ONLY, CDK_PACKAGES]),
  boundary(['cloud/**'], [CLOUD_NOT_EDGE, DEV_ONLY, NOT_INFRA, CDK_PACKAGES]),
  // Later than cloud/**: its rules replace those for the CDK app's files.
  boundary(['cloud/infra/**'], [CLOUD_NOT_EDGE, INFRA_DEV_ONLY]),
);
