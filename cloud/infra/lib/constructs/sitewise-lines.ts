/**
 * The fleet in AWS IoT SiteWise, as a hierarchy per line (sitewise-hierarchy.ts): per line description a
 * line model with a roller, a span and a drive model under it (lines of one description share them); per
 * line a line asset with a child asset per roller, span and driven element that carries a property,
 * associated through the line model's hierarchies. Each asset property is aliased by the template the
 * publisher and the job write through (platform/sitewise/aliases.ts), so they address every value as
 * before, wherever it lives. Notifications are on for one measured property per line: the publisher-lag
 * alarm reads them.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sitewise from 'aws-cdk-lib/aws-iotsitewise';
import { Construct } from 'constructs';
import { propertyAlias } from '../../../../platform/sitewise/aliases';
import { InfraConfigError } from '../config';
import type { DeployedLine } from '../fleet';
import { nagEnv } from '../nag';
import {
  HIERARCHY_OF,
  lineHierarchy,
  type AssetKind,
  type AssetSpec,
  type ChildKind,
  type LineHierarchy,
  type ModelSpec,
} from '../sitewise-hierarchy';
import { lagProbeProperty } from '../sitewise-model';

export interface SitewiseLinesProps {
  readonly prefix: string;
  readonly lines: readonly DeployedLine[];
  readonly aliasTemplate: string;
  /** The account's quota of properties per asset model. */
  readonly propertiesPerModel: number;
}

/** The models of one line description: the line model and one per child kind it has assets of. */
export interface DescriptionModels {
  readonly line: sitewise.CfnAssetModel;
  readonly children: ReadonlyMap<ChildKind, sitewise.CfnAssetModel>;
  /** What they were built from (every line of the description must need the same). */
  readonly specs: readonly ModelSpec[];
}

export interface ElementAsset {
  readonly kind: ChildKind;
  /** The roller, span or driven element it stands for. */
  readonly element: string;
  readonly asset: sitewise.CfnAsset;
  readonly model: sitewise.CfnAssetModel;
}

export interface LineAsset {
  readonly line: DeployedLine;
  readonly asset: sitewise.CfnAsset;
  readonly model: sitewise.CfnAssetModel;
  readonly children: readonly ElementAsset[];
  /** The model of the asset whose property the publisher-lag probe is (notifications on). */
  readonly probeModel: sitewise.CfnAssetModel;
}

/** What a construct needs to let a role act on the fleet's assets (and on no other asset). */
export interface FleetAssetAccess {
  grant(role: iam.Role, actions: readonly string[], why: string): void;
}

/** The key SiteWise puts an asset's place in its hierarchy under: `/<root asset id>/<child asset id>`. */
export const HIERARCHY_PATH_KEY = 'iotsitewise:assetHierarchyPath';

export class SitewiseLines extends Construct implements FleetAssetAccess {
  /** By line description id. */
  readonly models = new Map<string, DescriptionModels>();
  readonly assets: LineAsset[] = [];

  constructor(scope: Construct, id: string, props: SitewiseLinesProps) {
    super(scope, id);
    for (const line of props.lines) {
      const hierarchy = lineHierarchy(line.topology);
      const models = this.modelsFor(props, line, hierarchy);
      this.assets.push(this.lineAssets(props, line, hierarchy, models));
    }
  }

  /**
   * Lets `role` do `actions` on the fleet's line assets and their children, as SiteWise's own policy
   * examples scope an asset hierarchy: assets whose hierarchy path starts at a line asset. One pair of
   * paths per line, not an ARN per asset: a line's 20-odd child assets would soon pass IAM's policy size.
   */
  grant(role: iam.Role, actions: readonly string[], why: string): void {
    const stack = Stack.of(this);
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: [...actions],
        resources: [stack.formatArn({ service: 'iotsitewise', resource: 'asset', resourceName: '*' })],
        conditions: { StringLike: { [HIERARCHY_PATH_KEY]: this.hierarchyPaths() } },
      }),
    );
    const { region, account } = nagEnv(stack);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iotsitewise:${region}:${account}:asset/*]`,
      reason: `${why}: asset IDs are only known after deploy, and each line's assets (the line and its rollers, spans, driven elements) are many, so the statement names the fleet's line assets by the ${HIERARCHY_PATH_KEY} condition (the line asset and everything under it) instead of listing every asset ARN.`,
    });
  }

  /** `/<line asset id>` and `/<line asset id>/*` of every line: the fleet's assets, nothing else. */
  hierarchyPaths(): string[] {
    return this.assets.flatMap((a) => [`/${a.asset.attrAssetId}`, `/${a.asset.attrAssetId}/*`]);
  }

  private modelsFor(
    props: SitewiseLinesProps,
    line: DeployedLine,
    hierarchy: LineHierarchy,
  ): DescriptionModels {
    const d = line.descriptionId;
    const known = this.models.get(d);
    if (known) {
      if (JSON.stringify(known.specs) !== JSON.stringify(hierarchy.models))
        throw new InfraConfigError(
          'INFRA_LINE_INVALID',
          'fleet',
          `line ${line.lineId} has description id '${d}' but not the same elements and sensors as the fleet's first line of that id: give the description its own id`,
        );
      return known;
    }
    for (const m of hierarchy.models)
      if (m.properties.length > props.propertiesPerModel)
        throw new InfraConfigError(
          'INFRA_MODEL_TOO_LARGE',
          'sitewisePropertiesPerModel',
          `line description '${d}' needs ${m.properties.length} SiteWise properties in its ${m.kind} model, over the ` +
            `${props.propertiesPerModel} per asset model of the quota; raise the quota (Service Quotas console) and this setting`,
        );
    const children = new Map<ChildKind, sitewise.CfnAssetModel>();
    for (const m of hierarchy.models)
      if (m.kind !== 'line') children.set(m.kind, this.assetModel(props.prefix, d, m, new Map()));
    const lineSpec = hierarchy.models.find((m) => m.kind === 'line') as ModelSpec;
    const models = {
      line: this.assetModel(props.prefix, d, lineSpec, children),
      children,
      specs: hierarchy.models,
    };
    this.models.set(d, models);
    return models;
  }

  private assetModel(
    prefix: string,
    descriptionId: string,
    spec: ModelSpec,
    children: ReadonlyMap<ChildKind, sitewise.CfnAssetModel>,
  ): sitewise.CfnAssetModel {
    const line = spec.kind === 'line';
    return new sitewise.CfnAssetModel(
      this,
      line ? `Model-${descriptionId}` : `Model-${descriptionId}-${spec.kind}`,
      {
        assetModelName: line ? `${prefix} ${descriptionId}` : `${prefix} ${descriptionId} ${spec.kind}`,
        assetModelDescription: MODEL_DESCRIPTIONS[spec.kind](descriptionId),
        assetModelProperties: spec.properties.map((p) => ({
          logicalId: p.name,
          name: p.name,
          dataType: 'DOUBLE',
          ...(p.unit === undefined ? {} : { unit: p.unit }),
          type: { typeName: 'Measurement' },
        })),
        ...(children.size === 0
          ? {}
          : {
              assetModelHierarchies: [...children].map(([kind, model]) => ({
                logicalId: HIERARCHY_OF[kind],
                name: HIERARCHY_OF[kind],
                childAssetModelId: model.attrAssetModelId,
              })),
            }),
      },
    );
  }

  private lineAssets(
    props: SitewiseLinesProps,
    line: DeployedLine,
    hierarchy: LineHierarchy,
    models: DescriptionModels,
  ): LineAsset {
    const probe = lagProbeProperty(line.topology);
    const base = `${props.prefix} ${line.lineId}`;
    const properties = (spec: AssetSpec) =>
      spec.properties.map((p) => ({
        logicalId: p.name,
        alias: propertyAlias(props.aliasTemplate, line.lineId, p.signal),
        notificationState: p.signal === probe ? 'ENABLED' : 'DISABLED',
      }));
    const children = hierarchy.children.map((spec): ElementAsset => {
      const kind = spec.kind as ChildKind;
      const element = spec.element as string;
      const model = models.children.get(kind) as sitewise.CfnAssetModel;
      const asset = new sitewise.CfnAsset(this, `Line-${line.lineId}-${kind}-${element}`, {
        assetName: `${base} ${element}`,
        assetModelId: model.attrAssetModelId,
        assetDescription: `${KIND_NAMES[kind]} ${element} of line ${line.lineId}`,
        assetProperties: properties(spec),
      });
      return { kind, element, asset, model };
    });
    const asset = new sitewise.CfnAsset(this, `Line-${line.lineId}`, {
      assetName: base,
      assetModelId: models.line.attrAssetModelId,
      assetDescription: `Line ${line.lineId} (description ${line.descriptionId}) on gateway ${line.thingName}`,
      assetProperties: properties(hierarchy.line),
      assetHierarchies: children.map((c) => ({
        logicalId: HIERARCHY_OF[c.kind],
        childAssetId: c.asset.attrAssetId,
      })),
    });
    const probeKind = [hierarchy.line, ...hierarchy.children].find((s) =>
      s.properties.some((p) => p.signal === probe),
    )?.kind as AssetKind;
    const probeModel =
      probeKind === 'line' ? models.line : (models.children.get(probeKind) as sitewise.CfnAssetModel);
    return { line, asset, model: models.line, children, probeModel };
  }
}

const KIND_NAMES: Readonly<Record<ChildKind, string>> = {
  roller: 'Idler roller',
  span: 'Span',
  drive: 'Driven element',
};

const MODEL_DESCRIPTIONS: Readonly<Record<AssetKind, (d: string) => string>> = {
  line: (d) =>
    `selfcal line model of description ${d}: line-level readings, the innovation score, the web's ` +
    'stiffness and traction posteriors, the line fit; its rollers, spans and driven elements are child assets',
  roller: (d) =>
    `selfcal idler roller of description ${d}: speed reading, slip virtual sensor, health, the edge's and ` +
    "the calibration job's bearing friction posteriors, residuals",
  span: (d) =>
    `selfcal span of description ${d}: tension virtual sensor, the load cell's reading, status, residuals ` +
    'and gain check where it has one',
  drive: (d) => `selfcal driven element (nip, winder) of description ${d}: speed reading, status, residuals`,
};
