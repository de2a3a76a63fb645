/**
 * Shared by the recipe tests: the recipes as `npm run package` renders them, the components' configuration
 * modules, and the nucleus's placeholder interpolation (KernelConfigResolver) reproduced for the lifecycle.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  COMPONENTS,
  packageVersion,
  parseRecipe,
  recipeSourcePath,
  renderRecipe,
  REPO_ROOT,
  type ComponentSpec,
  type Recipe,
  type RecipeManifest,
} from '../../../scripts/package-components';

export interface LoadedRecipe {
  spec: ComponentSpec;
  /** The recipe file as written in recipes/, placeholders included. */
  sourceText: string;
  source: Recipe;
  /** Rendered with package.json's version and this host's Node, as `npm run package` writes it. */
  recipe: Recipe;
}

export function loadRecipes(): LoadedRecipe[] {
  return COMPONENTS.map((spec) => {
    const sourceText = readFileSync(recipeSourcePath(spec.name), 'utf8');
    return {
      spec,
      sourceText,
      source: parseRecipe(sourceText),
      recipe: parseRecipe(renderRecipe(sourceText, { version: packageVersion() })),
    };
  });
}

/** The part of a JSON schema the recipe tests read. */
export interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  required?: readonly string[];
}

export interface ComponentConfigModule {
  envVar: string;
  schema: SchemaNode & { properties: Record<string, SchemaNode> };
  defaults: Record<string, unknown>;
}

/**
 * The configuration exports of a component's config module. Loaded by path so that a component being
 * written in parallel is picked up as soon as its module appears; a missing module or export fails here.
 */
export function loadConfigModule(spec: ComponentSpec): ComponentConfigModule {
  let mod: Record<string, unknown>;
  try {
    // Jest's require (it transpiles .ts); a static import would not compile before the module exists.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(join(REPO_ROOT, spec.configModule)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(
      `${spec.name}: cannot load its configuration module ${spec.configModule}.ts (${(error as Error).message})`,
    );
  }
  const { envVar, schema, defaults } = spec.configExports;
  for (const name of [envVar, schema, defaults])
    if (mod[name] === undefined)
      throw new Error(`${spec.name}: ${spec.configModule}.ts does not export ${name}`);
  return {
    envVar: mod[envVar] as string,
    schema: mod[schema] as ComponentConfigModule['schema'],
    defaults: mod[defaults] as Record<string, unknown>,
  };
}

export function settingsOf(recipe: Recipe): Record<string, unknown> {
  return (recipe.ComponentConfiguration?.DefaultConfiguration?.settings ?? {}) as Record<string, unknown>;
}

export interface LifecycleStep {
  Script: string;
  Setenv?: Record<string, string>;
}

export function stepOf(manifest: RecipeManifest, name: 'Install' | 'Run'): LifecycleStep {
  const step = manifest.Lifecycle[name];
  if (step === undefined) throw new Error(`manifest ${manifest.Name} has no ${name} step`);
  return typeof step === 'string' ? { Script: step } : (step as LifecycleStep);
}

/** Node's `${platform}-${arch}` for a recipe Platform. */
export function nodeTargetOf(platform: Record<string, string>): string {
  const arch = { amd64: 'x64', aarch64: 'arm64', arm: 'arm', x86: 'ia32' }[platform.architecture ?? ''];
  return `${platform.os}-${arch ?? '?'}`;
}

export interface NucleusContext {
  kernelRoot: string;
  componentName: string;
  configuration: Record<string, unknown>;
  artifactsPath: string;
}

export function workPath(kernelRoot: string, componentName: string): string {
  return join(kernelRoot, 'work', componentName);
}

/**
 * The nucleus's same-component interpolation of a lifecycle string (KernelConfigResolver.replace): each
 * `{namespace:key}` of the original text is replaced once; a configuration value node becomes its text, an
 * object or array its JSON, a missing node stays literal (the nucleus logs an error).
 */
export function interpolate(text: string, ctx: NucleusContext): string {
  let out = text;
  for (const match of text.matchAll(/\{([.\w]+):([^:}]+)\}/g)) {
    const [placeholder, namespace, key] = match as unknown as [string, string, string];
    let value: string | undefined;
    if (namespace === 'configuration') {
      const node = atPointer(ctx.configuration, key);
      if (node !== undefined)
        value = typeof node === 'object' && node !== null ? JSON.stringify(node) : String(node);
    } else if (namespace === 'artifacts' && key === 'path') value = ctx.artifactsPath;
    else if (namespace === 'work' && key === 'path') value = workPath(ctx.kernelRoot, ctx.componentName);
    else if (namespace === 'kernel' && key === 'rootPath') value = ctx.kernelRoot;
    if (value !== undefined) out = out.replaceAll(placeholder, value);
  }
  return out;
}

function atPointer(doc: unknown, pointer: string): unknown {
  let node = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof node !== 'object' || node === null || !(key in node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
