/**
 * The three edge components as the CDK app deploys them: packaged by the same code as `npm run package`
 * (scripts/package-components.ts: esbuild bundles, the SQLite addon per Node ABI, the filled-in recipes),
 * then each recipe's artifact URIs pointed at the project bucket's `greengrass/` prefix, and the fleet's
 * line descriptions added to the ingest's artifacts (the ingest and the estimator read them from there).
 */
import { readFileSync } from 'node:fs';
import {
  artifactFileName,
  packageComponents,
  parseRecipe,
  type PackagedComponent,
  type Recipe,
} from '../../../scripts/package-components';
import { lineArtifactFile, type DeployedLine } from './fleet';

export const INGEST = 'com.selfcal.Ingest';
export const PUBLISHER = 'com.selfcal.Publisher';
export const ESTIMATOR = 'com.selfcal.Estimator';

/** A packaged component: its recipe as packaged (BUCKET_NAME still in the URIs) and its artifact files. */
export interface EdgeComponent {
  readonly name: string;
  readonly version: string;
  readonly recipe: Recipe;
  readonly files: readonly string[];
}

/** `npm run package` into `outDir` (the recipes keep BUCKET_NAME: the stack fills in its bucket). */
export async function packageEdgeComponents(outDir: string, version: string): Promise<EdgeComponent[]> {
  const packaged = await packageComponents({ outDir, version });
  return packaged.map(edgeComponent);
}

function edgeComponent(p: PackagedComponent): EdgeComponent {
  return {
    name: p.name,
    version: p.version,
    recipe: parseRecipe(readFileSync(p.recipeFile, 'utf8')),
    files: p.files,
  };
}

/** Where the line descriptions live on a gateway, relative to a component's work folder. */
export function gatewayLinePath(version: string, lineId: string): string {
  // Lifecycle scripts run in <root>/work/<component>; artifacts are in <root>/packages/artifacts/<component>/<version>.
  return `../../packages/artifacts/${INGEST}/${version}/${lineArtifactFile(lineId)}`;
}

/**
 * The recipe to register: artifact URIs under `s3://<bucket>/<keyPrefix><name>/<version>/`, and for the
 * ingest one artifact per fleet line description. (The file a gateway gets is named by the URI's last
 * segment, so the prefix may carry anything.)
 */
export function deployedRecipe(
  component: EdgeComponent,
  bucketName: string,
  keyPrefix: string,
  lines: readonly DeployedLine[],
): Recipe {
  const base = `s3://${bucketName}/${keyPrefix}${component.name}/${component.version}/`;
  const lineFiles = component.name === INGEST ? lines.map((l) => lineArtifactFile(l.lineId)) : [];
  return {
    ...component.recipe,
    Manifests: component.recipe.Manifests.map((m) => ({
      ...m,
      Artifacts: [
        ...(m.Artifacts ?? []).map((a) => ({ ...a, URI: base + artifactFileName(a.URI) })),
        ...lineFiles.map((f) => ({ URI: base + f })),
      ],
    })),
  };
}
