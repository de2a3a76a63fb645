import {
  CreateAssetCommand,
  CreateAssetModelCommand,
  DescribeAssetCommand,
  UpdateAssetPropertyCommand,
  type IoTSiteWiseClient,
} from '@aws-sdk/client-iotsitewise';
import { createSitewiseClient, startSitewiseEmulator } from '../../../../simulators/sitewise';
import type { SitewiseEmulator, SitewiseEmulatorOptions } from '../../../../simulators/sitewise';

/** The emulator's fixed "now": 2026-01-15T12:00:00Z. */
export const NOW_MS = Date.UTC(2026, 0, 15, 12, 0, 0);
export const NOW_S = NOW_MS / 1000;

export interface Fixture {
  emulator: SitewiseEmulator;
  client: IoTSiteWiseClient;
  close(): Promise<void>;
}

export async function startFixture(
  options: SitewiseEmulatorOptions = {},
  clientOptions: { maxAttempts?: number } = { maxAttempts: 1 },
): Promise<Fixture> {
  const emulator = await startSitewiseEmulator({ clock: () => NOW_MS, ...options });
  const client = createSitewiseClient(emulator.endpoint, clientOptions);
  return {
    emulator,
    client,
    close: async () => {
      client.destroy();
      await emulator.close();
    },
  };
}

export interface LineAsset {
  assetModelId: string;
  assetId: string;
  propertyId: string;
  alias: string;
}

/** Creates a model with one DOUBLE measurement, an asset of it and an alias on the property — all via the SDK. */
export async function createLineAsset(
  client: IoTSiteWiseClient,
  alias = '/line1/S5_Tension_N',
  modelName = 'WebLine',
): Promise<LineAsset> {
  const model = await client.send(
    new CreateAssetModelCommand({
      assetModelName: modelName,
      assetModelProperties: [
        { name: 'S5_Tension_N', dataType: 'DOUBLE', unit: 'N', type: { measurement: {} } },
        { name: 'Roller9_health', dataType: 'INTEGER', type: { measurement: {} } },
      ],
    }),
  );
  const assetModelId = model.assetModelId ?? '';
  const asset = await client.send(new CreateAssetCommand({ assetName: `${modelName}-1`, assetModelId }));
  const assetId = asset.assetId ?? '';
  const described = await client.send(new DescribeAssetCommand({ assetId }));
  const propertyId = described.assetProperties?.find((p) => p.name === 'S5_Tension_N')?.id ?? '';
  await client.send(new UpdateAssetPropertyCommand({ assetId, propertyId, propertyAlias: alias }));
  return { assetModelId, assetId, propertyId, alias };
}

/** A DOUBLE TQV at `NOW_S - agoS` seconds. */
export function tqv(agoS: number, value: number, nanos = 0) {
  return { value: { doubleValue: value }, timestamp: { timeInSeconds: NOW_S - agoS, offsetInNanos: nanos } };
}
