/**
 * The request-body side of S3's flexible checksums. SDK ≥ 3.729 sends a stream body as
 * `content-encoding: aws-chunked` (`<hex size>[;chunk-signature=…]\r\n<bytes>\r\n` … `0\r\n`, then
 * trailer lines such as `x-amz-checksum-crc32:<base64>\r\n` and `\r\n`); a Buffer body goes as is with
 * an `x-amz-checksum-crc32` header. The emulator decodes the former and checks CRC32 in both cases.
 */
import { crc32 } from 'node:zlib';

export interface DecodedBody {
  bytes: Buffer;
  /** Trailer headers, lower-cased names. */
  trailers: Record<string, string>;
}

/** Decodes an aws-chunked body; throws an Error with a reason on malformed framing. */
export function decodeAwsChunked(raw: Buffer): DecodedBody {
  const parts: Buffer[] = [];
  let at = 0;
  const line = (): string => {
    const end = raw.indexOf('\r\n', at);
    if (end < 0) throw new Error('aws-chunked body: a line has no CRLF');
    const text = raw.subarray(at, end).toString('latin1');
    at = end + 2;
    return text;
  };
  for (;;) {
    const header = line();
    const size = Number.parseInt(header.split(';')[0] ?? '', 16);
    if (!Number.isInteger(size) || size < 0) throw new Error(`aws-chunked body: bad chunk size '${header}'`);
    if (size === 0) break;
    if (at + size + 2 > raw.length) throw new Error('aws-chunked body: a chunk is cut short');
    parts.push(raw.subarray(at, at + size));
    at += size;
    if (raw.subarray(at, at + 2).toString('latin1') !== '\r\n') {
      throw new Error('aws-chunked body: chunk data is not followed by CRLF');
    }
    at += 2;
  }
  const trailers: Record<string, string> = {};
  while (at < raw.length) {
    const text = line();
    if (text === '') break;
    const colon = text.indexOf(':');
    if (colon <= 0) throw new Error(`aws-chunked body: bad trailer '${text}'`);
    trailers[text.slice(0, colon).trim().toLowerCase()] = text.slice(colon + 1).trim();
  }
  return { bytes: Buffer.concat(parts), trailers };
}

/** CRC32 of the bytes as S3 writes it: the 4 big-endian bytes in base64. */
export function crc32Base64(bytes: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(bytes) >>> 0);
  return out.toString('base64');
}
