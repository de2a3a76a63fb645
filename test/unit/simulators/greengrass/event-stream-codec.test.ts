import fc from 'fast-check';
import {
  decodeMessage,
  encodeMessage,
  EventStreamCodecError,
  FrameReader,
  type EventStreamMessage,
  type HeaderValue,
} from '../../../../simulators/greengrass/event-stream-codec';

const flip = (frame: Buffer, at: number, mask: number) => frame.writeUInt8(frame.readUInt8(at) ^ mask, at);

const sample: EventStreamMessage = {
  headers: {
    ':message-type': { type: 'int32', value: 0 },
    ':message-flags': { type: 'int32', value: 2 },
    ':stream-id': { type: 'int32', value: 7 },
    operation: { type: 'string', value: 'aws.greengrass#PublishToTopic' },
    yes: { type: 'bool', value: true },
    no: { type: 'bool', value: false },
    b: { type: 'byte', value: -5 },
    s: { type: 'int16', value: 31000 },
    l: { type: 'int64', value: -(2n ** 40n) },
    t: { type: 'timestamp', value: 1_764_000_000_000n },
    raw: { type: 'bytes', value: Buffer.from([0, 1, 255]) },
    id: { type: 'uuid', value: Buffer.alloc(16, 0xab) },
  },
  payload: Buffer.from('{"topic":"a/b"}'),
};

describe('event-stream codec', () => {
  it('round-trips every header type and the payload', () => {
    const frame = encodeMessage(sample);

    const decoded = decodeMessage(frame);

    expect(decoded).toEqual(sample);
  });

  it("keeps a header named '__proto__' as a header (found by the property below)", () => {
    // Prepare: a header whose name is an Object.prototype accessor
    const headers = {};
    Object.defineProperty(headers, '__proto__', {
      value: { type: 'byte', value: 0 },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    // Act
    const decoded = decodeMessage(encodeMessage({ headers, payload: Buffer.alloc(0) }));
    // Assess
    expect(Object.getOwnPropertyDescriptor(decoded.headers, '__proto__')?.value).toEqual({
      type: 'byte',
      value: 0,
    });
    expect(Object.getPrototypeOf(decoded.headers)).toBe(Object.prototype);
  });

  it('writes the accepting CONNECT_ACK byte for byte as captured from the protocol', () => {
    // 71 bytes, captured in the research for issue 5 (aws-c-event-stream's layout).
    const expected =
      '00000047000000373' +
      '74cfe3f0d3a6d6573736167652d7479706504000000050e3a6d6573736167652d666c616773040000000' +
      '10a3a73747265616d2d696404000000' +
      '00e237e27d';
    const frame = encodeMessage({
      headers: {
        ':message-type': { type: 'int32', value: 5 },
        ':message-flags': { type: 'int32', value: 1 },
        ':stream-id': { type: 'int32', value: 0 },
      },
      payload: Buffer.alloc(0),
    });

    expect(frame.toString('hex')).toBe(expected);
  });

  it('rejects a frame whose payload was corrupted (message CRC)', () => {
    const frame = encodeMessage(sample);
    flip(frame, frame.length - 6, 0x01);

    expect(() => decodeMessage(frame)).toThrow(new EventStreamCodecError('message CRC mismatch'));
  });

  it('rejects a frame whose prelude was corrupted (prelude CRC)', () => {
    const frame = encodeMessage(sample);
    flip(frame, 5, 0x10);

    expect(() => decodeMessage(frame)).toThrow(new EventStreamCodecError('prelude CRC mismatch'));
    expect(() => new FrameReader().push(frame)).toThrow(EventStreamCodecError);
  });

  it('rejects a truncated frame', () => {
    expect(() => decodeMessage(encodeMessage(sample).subarray(0, 20))).toThrow(EventStreamCodecError);
  });

  const headerValue: fc.Arbitrary<HeaderValue> = fc.oneof(
    fc.boolean().map((value) => ({ type: 'bool' as const, value })),
    fc.integer({ min: -128, max: 127 }).map((value) => ({ type: 'byte' as const, value })),
    fc.integer({ min: -32768, max: 32767 }).map((value) => ({ type: 'int16' as const, value })),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((value) => ({ type: 'int32' as const, value })),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => ({ type: 'int64' as const, value })),
    fc.string({ maxLength: 40 }).map((value) => ({ type: 'string' as const, value })),
    fc.uint8Array({ maxLength: 40 }).map((v) => ({ type: 'bytes' as const, value: Buffer.from(v) })),
  );
  const message: fc.Arbitrary<EventStreamMessage> = fc.record({
    headers: fc.dictionary(
      fc.string({ minLength: 1, maxLength: 20 }).filter((n) => Buffer.byteLength(n) <= 127),
      headerValue,
      {
        maxKeys: 6,
      },
    ),
    payload: fc.uint8Array({ maxLength: 300 }).map((v) => Buffer.from(v)),
  });

  it('property: any message survives encoding, and a stream cut anywhere reassembles in order', () => {
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (messages, cuts) => {
          const stream = Buffer.concat(messages.map(encodeMessage));
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const reader = new FrameReader();
          const out: EventStreamMessage[] = [];
          let from = 0;
          for (const p of [...points, stream.length]) {
            out.push(...reader.push(stream.subarray(from, p)));
            from = p;
          }
          expect(out).toEqual(messages);
        },
      ),
    );
  });

  it('property: flipping any single bit is detected', () => {
    fc.assert(
      fc.property(message, fc.nat(), fc.integer({ min: 0, max: 7 }), (m, at, bit) => {
        const frame = encodeMessage(m);
        flip(frame, at % frame.length, 1 << bit);
        expect(() => decodeMessage(frame)).toThrow(EventStreamCodecError);
      }),
    );
  });
});
