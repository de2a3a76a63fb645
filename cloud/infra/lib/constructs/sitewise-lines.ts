/**
 * The fleet in AWS IoT SiteWise: one asset model per line description (lines of one description share
 * it) and one asset per line, each property aliased by the template the publisher and the job write
 * through (platform/sitewise/aliases.ts). Notifications are on for one measured property per line: the
 * publisher-lag alarm reads them.
 */
import * as sitewise from 'aws-cdk-lib/aws-iotsitewise';
import { Construct } from 'constructs';
import { propertyAlias } from '../../../../platform/sitewise/aliases';
import { InfraConfigError } from '../config';
import type { DeployedLine } from '../fleet';
import { assetModelProperties, lagProbeProperty, type ModelProperty } from '../sitewise-model';

export interface SitewiseLinesProps {
  readonly prefix: string;
  readonly lines: readonly DeployedLine[];
  readonly aliasTemplate: string;
  /** The account's quota of properties per asset model. */
  readonly propertiesPerModel: number;
}

export interface LineAsset {
  readonly line: DeployedLine;
  readonly asset: sitewise.CfnAsset;
  readonly model: sitewise.CfnAssetModel;
}

export class SitewiseLines extends Construct {
  readonly models = new Map<string, sitewise.CfnAssetModel>();
  readonly assets: LineAsset[] = [];

  constructor(scope: Construct, id: string, props: SitewiseLinesProps) {
    super(scope, id);
    for (const line of props.lines) {
      const properties = assetModelProperties(line.topology);
      let model = this.models.get(line.descriptionId);
      if (!model) {
        if (properties.length > props.propertiesPerModel)
          throw new InfraConfigError(
            'INFRA_MODEL_TOO_LARGE',
            'sitewisePropertiesPerModel',
            `line description '${line.descriptionId}' needs ${properties.length} SiteWise properties, over the ` +
              `${props.propertiesPerModel} per asset model of the quota; raise the quota (Service Quotas console) and this setting`,
          );
        model = this.assetModel(props.prefix, line, properties);
        this.models.set(line.descriptionId, model);
      }
      const probe = lagProbeProperty(line.topology);
      const asset = new sitewise.CfnAsset(this, `Line-${line.lineId}`, {
        assetName: `${props.prefix} ${line.lineId}`,
        assetModelId: model.attrAssetModelId,
        assetDescription: `Line ${line.lineId} (description ${line.descriptionId}) on gateway ${line.thingName}`,
        assetProperties: properties.map((p) => ({
          logicalId: p.name,
          alias: propertyAlias(props.aliasTemplate, line.lineId, p.name),
          notificationState: p.name === probe ? 'ENABLED' : 'DISABLED',
        })),
      });
      this.assets.push({ line, asset, model });
    }
  }

  private assetModel(
    prefix: string,
    line: DeployedLine,
    properties: ModelProperty[],
  ): sitewise.CfnAssetModel {
    return new sitewise.CfnAssetModel(this, `Model-${line.descriptionId}`, {
      assetModelName: `${prefix} ${line.descriptionId}`,
      assetModelDescription:
        `selfcal line model of description ${line.descriptionId}: readings, the edge estimator's virtual ` +
        "sensors and health, the calibration job's parameters and line fit",
      assetModelProperties: properties.map((p) => ({
        logicalId: p.name,
        name: p.name,
        dataType: 'DOUBLE',
        ...(p.unit === undefined ? {} : { unit: p.unit }),
        type: { typeName: 'Measurement' },
      })),
    });
  }

  /** ARNs of every line asset: what the token exchange role and the job may write to. */
  assetArns(): string[] {
    return this.assets.map((a) => a.asset.attrAssetArn);
  }
}
