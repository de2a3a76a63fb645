/**
 * AWS event-stream framing (the transport of Greengrass IPC), as aws-c-event-stream writes it:
 *
 *   u32 total_len | u32 headers_len | u32 crc32(prelude) | headers | payload | u32 crc32(all before)
 *
 * Integers are big-endian; the CRC is the zlib/IEEE CRC-32 (`zlib.crc32`, Node ≥ 20.15). Header values are
 * typed: `u8 name_len | name | u8 type | value`. Hand-written because @smithy/eventstream-codec is not in
 * this tree and aws-crt exposes no codec to JS.
 */
import { crc32 } from 'node:zlib';

export const HeaderType = {
  boolTrue: 0,
  boolFalse: 1,
  byte: 2,
  int16: 3,
  int32: 4,
  int64: 5,
  bytes: 6,
  string: 7,
  timestamp: 8,
  uuid: 9,
} as const;

export type HeaderValue =
  | { type: 'bool'; value: boolean }
  | { type: 'byte' | 'int16' | 'int32'; value: number }
  | { type: 'int64' | 'timestamp'; value: bigint }
  | { type: 'bytes' | 'uuid'; value: Buffer }
  | { type: 'string'; value: string };

export type Headers = Record<string, HeaderValue>;

export interface EventStreamMessage {
  headers: Headers;
  payload: Buffer;
}

/** The limits of aws-c-event-stream (event_stream.h). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
export const MAX_HEADERS_BYTES = 128 * 1024;
const PRELUDE_BYTES = 12;
const TRAILER_BYTES = 4;

/** A frame that cannot be decoded: bad CRC, impossible lengths, unknown header type. */
export class EventStreamCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventStreamCodecError';
  }
}

function encodeHeaderValue(header: HeaderValue): Buffer {
  switch (header.type) {
    case 'bool':
      return Buffer.from([header.value ? HeaderType.boolTrue : HeaderType.boolFalse]);
    case 'byte': {
      const b = Buffer.alloc(2);
      b[0] = HeaderType.byte;
      b.writeInt8(header.value, 1);
      return b;
    }
    case 'int16': {
      const b = Buffer.alloc(3);
      b[0] = HeaderType.int16;
      b.writeInt16BE(header.value, 1);
      return b;
    }
    case 'int32': {
      const b = Buffer.alloc(5);
      b[0] = HeaderType.int32;
      b.writeInt32BE(header.value, 1);
      return b;
    }
    case 'int64':
    case 'timestamp': {
      const b = Buffer.alloc(9);
      b[0] = header.type === 'int64' ? HeaderType.int64 : HeaderType.timestamp;
      b.writeBigInt64BE(header.value, 1);
      return b;
    }
    case 'uuid': {
      if (header.value.length !== 16) throw new EventStreamCodecError('a uuid header value has 16 bytes');
      return Buffer.concat([Buffer.from([HeaderType.uuid]), header.value]);
    }
    case 'bytes':
    case 'string': {
      const data = header.type === 'string' ? Buffer.from(header.value, 'utf8') : header.value;
      if (data.length > 0xffff) throw new EventStreamCodecError('a header value is at most 65535 bytes');
      const b = Buffer.alloc(3);
      b[0] = header.type === 'string' ? HeaderType.string : HeaderType.bytes;
      b.writeUInt16BE(data.length, 1);
      return Buffer.concat([b, data]);
    }
  }
}

export function encodeHeaders(headers: Headers): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const nameBytes = Buffer.from(name, 'utf8');
    if (nameBytes.length === 0 || nameBytes.length > 127) {
      throw new EventStreamCodecError(`header name '${name}' must be 1..127 bytes`);
    }
    parts.push(Buffer.from([nameBytes.length]), nameBytes, encodeHeaderValue(value));
  }
  return Buffer.concat(parts);
}

export function decodeHeaders(buf: Buffer): Headers {
  const headers: Headers = {};
  let o = 0;
  const need = (n: number) => {
    if (o + n > buf.length) throw new EventStreamCodecError('header block is truncated');
  };
  while (o < buf.length) {
    need(1);
    const nameLength = buf.readUInt8(o);
    o += 1;
    need(nameLength + 1);
    const name = buf.toString('utf8', o, o + nameLength);
    o += nameLength;
    const type = buf.readUInt8(o);
    o += 1;
    let header: HeaderValue;
    switch (type) {
      case HeaderType.boolTrue:
      case HeaderType.boolFalse:
        header = { type: 'bool', value: type === HeaderType.boolTrue };
        break;
      case HeaderType.byte:
        need(1);
        header = { type: 'byte', value: buf.readInt8(o) };
        o += 1;
        break;
      case HeaderType.int16:
        need(2);
        header = { type: 'int16', value: buf.readInt16BE(o) };
        o += 2;
        break;
      case HeaderType.int32:
        need(4);
        header = { type: 'int32', value: buf.readInt32BE(o) };
        o += 4;
        break;
      case HeaderType.int64:
      case HeaderType.timestamp:
        need(8);
        header = {
          type: type === HeaderType.int64 ? 'int64' : 'timestamp',
          value: buf.readBigInt64BE(o),
        };
        o += 8;
        break;
      case HeaderType.uuid:
        need(16);
        header = { type: 'uuid', value: Buffer.from(buf.subarray(o, o + 16)) };
        o += 16;
        break;
      case HeaderType.bytes:
      case HeaderType.string: {
        need(2);
        const length = buf.readUInt16BE(o);
        o += 2;
        need(length);
        const data = buf.subarray(o, o + length);
        o += length;
        header =
          type === HeaderType.string
            ? { type: 'string', value: data.toString('utf8') }
            : { type: 'bytes', value: Buffer.from(data) };
        break;
      }
      default:
        throw new EventStreamCodecError(`unknown header type ${type} for '${name}'`);
    }
    // An own property whatever the name: `headers[name] =` with '__proto__' would set the prototype.
    Object.defineProperty(headers, name, {
      value: header,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return headers;
}

export function encodeMessage(message: EventStreamMessage): Buffer {
  const headers = encodeHeaders(message.headers);
  if (headers.length > MAX_HEADERS_BYTES) throw new EventStreamCodecError('headers exceed 128 KiB');
  const total = PRELUDE_BYTES + headers.length + message.payload.length + TRAILER_BYTES;
  if (total > MAX_MESSAGE_BYTES) throw new EventStreamCodecError('message exceeds 16 MiB');
  const frame = Buffer.alloc(total);
  frame.writeUInt32BE(total, 0);
  frame.writeUInt32BE(headers.length, 4);
  frame.writeUInt32BE(crc32(frame.subarray(0, 8)), 8);
  headers.copy(frame, PRELUDE_BYTES);
  message.payload.copy(frame, PRELUDE_BYTES + headers.length);
  frame.writeUInt32BE(crc32(frame.subarray(0, total - TRAILER_BYTES)), total - TRAILER_BYTES);
  return frame;
}

/** Decode exactly one whole frame. */
export function decodeMessage(frame: Buffer): EventStreamMessage {
  if (frame.length < PRELUDE_BYTES + TRAILER_BYTES) throw new EventStreamCodecError('frame is too short');
  const total = frame.readUInt32BE(0);
  const headersLength = frame.readUInt32BE(4);
  if (frame.readUInt32BE(8) !== crc32(frame.subarray(0, 8))) {
    throw new EventStreamCodecError('prelude CRC mismatch');
  }
  if (total !== frame.length) throw new EventStreamCodecError(`frame length ${frame.length} ≠ ${total}`);
  if (PRELUDE_BYTES + headersLength + TRAILER_BYTES > total) {
    throw new EventStreamCodecError('headers length exceeds the frame');
  }
  if (frame.readUInt32BE(total - TRAILER_BYTES) !== crc32(frame.subarray(0, total - TRAILER_BYTES))) {
    throw new EventStreamCodecError('message CRC mismatch');
  }
  const headers = decodeHeaders(frame.subarray(PRELUDE_BYTES, PRELUDE_BYTES + headersLength));
  const payload = Buffer.from(frame.subarray(PRELUDE_BYTES + headersLength, total - TRAILER_BYTES));
  return { headers, payload };
}

/**
 * Splits a byte stream into frames: feed it chunks, it returns the messages completed so far. Throws
 * EventStreamCodecError on a corrupt frame; the stream cannot be resynchronised after that.
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): EventStreamMessage[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const messages: EventStreamMessage[] = [];
    while (this.pending.length >= PRELUDE_BYTES) {
      const total = this.pending.readUInt32BE(0);
      if (this.pending.readUInt32BE(8) !== crc32(this.pending.subarray(0, 8))) {
        throw new EventStreamCodecError('prelude CRC mismatch');
      }
      if (total < PRELUDE_BYTES + TRAILER_BYTES || total > MAX_MESSAGE_BYTES) {
        throw new EventStreamCodecError(`impossible frame length ${total}`);
      }
      if (this.pending.length < total) break;
      messages.push(decodeMessage(this.pending.subarray(0, total)));
      this.pending = this.pending.subarray(total);
    }
    return messages;
  }
}
