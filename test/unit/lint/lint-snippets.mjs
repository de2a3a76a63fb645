// Lints snippets of code as if they were files of this repository, with its own eslint.config.mjs.
// Input on stdin: JSON [{ filePath, code }] (filePath relative to the repository root); output on stdout:
// JSON, for each snippet, its messages ({ ruleId, message, fatal }). A child process of
// import-rules.test.ts: ESLint loads its config with import(), which jest's module VM refuses.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { URL, fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const snippets = JSON.parse(readFileSync(0, 'utf8'));
const eslint = new ESLint({ cwd: root });
const results = [];
for (const { filePath, code } of snippets) {
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  results.push(
    (result?.messages ?? []).map(({ ruleId, message, fatal }) => ({
      ruleId,
      message,
      fatal: fatal === true,
    })),
  );
}
process.stdout.write(JSON.stringify(results));
