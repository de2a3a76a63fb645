/**
 * `npx cdk synth` / `npx cdk deploy` run this (cdk.json). Settings come from context (docs/deploy.md);
 * a bad setting exits 2 naming the context key.
 */
import { SelfcalError } from '../../../twin/errors';
import { createSelfcalApp } from '../lib/app';

createSelfcalApp()
  .then(({ app }) => {
    app.synth();
  })
  .catch((error: unknown) => {
    if (error instanceof SelfcalError) {
      console.error(`selfcal-infra: ${error.code}: ${error.message}`);
      process.exit(2);
    }
    console.error(error);
    process.exit(1);
  });
