/** The update that replaces a desired manifest, and reading one out of a shadow document. */
import { manifestOfShadow, replacementUpdate } from '../../../../../cloud/calibration-job/io/shadow-manifest';
import { signedManifest } from './manifest-channel.conformance';

describe('replacementUpdate', () => {
  it('deletes (null) what the current manifest has and the new one lacks, at every depth, with the version read', () => {
    // Prepare
    const current = {
      state: {
        desired: { ...signedManifest(1, 3), other: 'kept' },
        reported: { appliedVersion: 1 },
      },
      version: 5,
    };
    current.state.desired.manifest.parameters['b2'] = {
      ...current.state.desired.manifest.parameters['b2']!,
      extra: 1,
    } as never;
    const next = signedManifest(2, 1);

    // Act
    const update = replacementUpdate(current, next, 'tok') as {
      state: { desired: { manifest: { parameters: Record<string, unknown> } } & Record<string, unknown> };
      version: number;
      clientToken: string;
    };

    // Assess
    expect(update.version).toBe(5);
    expect(update.clientToken).toBe('tok');
    expect(update.state.desired.manifest.parameters).toEqual({
      ...next.manifest.parameters,
      b2: null,
      b3: null,
    });
    expect(update.state.desired).not.toHaveProperty('other');
    expect(update.state).not.toHaveProperty('reported');
  });

  it('sends the manifest as is, without a version, when there is no shadow yet', () => {
    // Prepare
    const next = signedManifest(1, 2);

    // Act + Assess
    expect(replacementUpdate(undefined, next)).toEqual({
      state: { desired: { manifest: next.manifest, signature: next.signature } },
    });
  });
});

describe('manifestOfShadow', () => {
  it.each([
    ['no document', undefined],
    ['no desired state', { state: { reported: { a: 1 } } }],
    ['a desired state without a signature', { state: { desired: { manifest: {} } } }],
    ['a manifest that is not an object', { state: { desired: { manifest: 'x', signature: {} } } }],
  ])('finds nothing in %s', (_what, doc) => {
    // Act + Assess
    expect(manifestOfShadow(doc)).toBeUndefined();
  });
});
