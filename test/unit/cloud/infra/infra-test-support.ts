/**
 * Builds the CDK app as bin/ does (the edge components packaged for real, into a temporary folder),
 * synthesizes it once, and gives the tests its template; cdk-nag's AwsSolutions checks run over the
 * construct tree as in cdk-nag's own tests. Asset staging is off (nothing is copied into cdk.out) and
 * so is CDK's CloudFormation schema check (`npx cdk synth` runs it): they cost seconds and assert nothing
 * the tests need.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createSelfcalApp, type SelfcalApp } from '../../../../cloud/infra/lib/app';

export interface SynthesizedApp extends SelfcalApp {
  template: Template;
  /** Every unacknowledged AwsSolutions finding: `<rule id> at <construct path>`. */
  nagFindings: string[];
  dispose(): void;
}

export async function synthesize(context: Record<string, unknown> = {}): Promise<SynthesizedApp> {
  const dir = mkdtempSync(join(tmpdir(), 'selfcal-infra-'));
  const built = await createSelfcalApp({
    context: { 'aws:cdk:disable-asset-staging': true, ...context },
    outdir: join(dir, 'cdk.out'),
    componentsDir: join(dir, 'components'),
    nagPlugin: false,
    cloudFormationValidation: false,
  });
  const template = Template.fromStack(built.stack);
  const report = new AwsSolutionsChecks().validateScope(built.app);
  const nagFindings = report.violations.flatMap((v) =>
    v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath ?? '?'}`),
  );
  return { ...built, template, nagFindings, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every resource of `type` in the template: logical id → properties. */
export function resources(template: Template, type: string): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    Object.entries(template.findResources(type)).map(([id, r]) => [
      id,
      (r as { Properties?: Record<string, unknown> }).Properties ?? {},
    ]),
  );
}

/** One IAM statement as written in the template (Action/Resource normalised to arrays). */
export interface Statement {
  owner: string;
  effect: string;
  actions: string[];
  resources: unknown[];
  conditions: Record<string, Record<string, unknown>> | undefined;
}

const asArray = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every statement of every identity policy, role inline policy and IoT policy in the template. */
export function iamStatements(template: Template): Statement[] {
  const out: Statement[] = [];
  const take = (owner: string, doc: unknown) => {
    for (const s of asArray((doc as { Statement?: unknown })?.Statement)) {
      const st = s as { Effect: string; Action?: unknown; Resource?: unknown; Condition?: unknown };
      out.push({
        owner,
        effect: st.Effect,
        actions: asArray(st.Action).map(String),
        resources: asArray(st.Resource),
        conditions: st.Condition as Statement['conditions'],
      });
    }
  };
  for (const [id, p] of Object.entries(resources(template, 'AWS::IAM::Policy')))
    take(id, p['PolicyDocument']);
  for (const [id, p] of Object.entries(resources(template, 'AWS::IAM::ManagedPolicy')))
    take(id, p['PolicyDocument']);
  for (const [id, p] of Object.entries(resources(template, 'AWS::IAM::Role')))
    for (const policy of asArray(p['Policies']))
      take(id, (policy as { PolicyDocument: unknown }).PolicyDocument);
  for (const [id, p] of Object.entries(resources(template, 'AWS::IoT::Policy')))
    take(id, p['PolicyDocument']);
  return out;
}

/**
 * A CloudFormation value as the string it becomes at deploy time, each Ref / GetAtt / ${...} replaced by
 * `name(<logical id or pseudo parameter>[.attribute])` (default `<name>`).
 */
export function render(value: unknown, name: (ref: string) => string = (ref) => `<${ref}>`): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const v = value as Record<string, unknown>;
  if ('Fn::Join' in v) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => render(p, name)).join(sep);
  }
  if ('Ref' in v) return name(String(v['Ref']));
  if ('Fn::GetAtt' in v) return name((v['Fn::GetAtt'] as string[]).join('.'));
  if ('Fn::Sub' in v) {
    const sub = v['Fn::Sub'];
    const [text, vars] = Array.isArray(sub)
      ? (sub as [string, Record<string, unknown>])
      : [sub as string, {}];
    return text.replace(/\$\{([^}!]+)\}/g, (_m, ref: string) =>
      ref in vars ? render(vars[ref], name) : name(ref),
    );
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

export interface TemplateModel {
  id: string;
  name: string;
  properties: { LogicalId: string; Name: string; DataType: string; Type: { TypeName: string } }[];
  hierarchies: { LogicalId: string; Name: string; ChildAssetModelId: { 'Fn::GetAtt': [string, string] } }[];
}

export interface TemplateAsset {
  id: string;
  name: string;
  /** Logical id of its model. */
  model: string;
  properties: { LogicalId: string; Alias: string; NotificationState: string }[];
  hierarchies: { LogicalId: string; ChildAssetId: { 'Fn::GetAtt': [string, string] } }[];
}

/** The SiteWise models and assets of a template, by logical id, with the references between them. */
export function sitewiseOf(template: Template): {
  models: Map<string, TemplateModel>;
  assets: Map<string, TemplateAsset>;
} {
  const models = new Map(
    Object.entries(resources(template, 'AWS::IoTSiteWise::AssetModel')).map(([id, m]) => [
      id,
      {
        id,
        name: String(m['AssetModelName']),
        properties: m['AssetModelProperties'] as TemplateModel['properties'],
        hierarchies: (m['AssetModelHierarchies'] ?? []) as TemplateModel['hierarchies'],
      },
    ]),
  );
  const assets = new Map(
    Object.entries(resources(template, 'AWS::IoTSiteWise::Asset')).map(([id, a]) => [
      id,
      {
        id,
        name: String(a['AssetName']),
        model: (a['AssetModelId'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0],
        properties: (a['AssetProperties'] ?? []) as TemplateAsset['properties'],
        hierarchies: (a['AssetHierarchies'] ?? []) as TemplateAsset['hierarchies'],
      },
    ]),
  );
  return { models, assets };
}
