/** The aws-chunked decoder of the S3 emulator, on hand-made bodies (signed and unsigned framing). */
import { crc32Base64, decodeAwsChunked } from '../../../../simulators/s3/aws-chunked';

describe('decodeAwsChunked', () => {
  it('joins the chunks and reads the trailer (unsigned, as SDK streams send)', () => {
    // Prepare
    const raw = Buffer.from(
      `5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:${crc32Base64(Buffer.from('hello world'))}\r\n\r\n`,
    );

    // Act
    const out = decodeAwsChunked(raw);

    // Assess
    expect(out.bytes.toString()).toBe('hello world');
    expect(out.trailers).toEqual({ 'x-amz-checksum-crc32': crc32Base64(Buffer.from('hello world')) });
  });

  it('ignores chunk signatures (signed framing)', () => {
    // Act
    const out = decodeAwsChunked(
      Buffer.from('3;chunk-signature=abc\r\nabc\r\n0;chunk-signature=def\r\n\r\n'),
    );

    // Assess
    expect(out.bytes.toString()).toBe('abc');
    expect(out.trailers).toEqual({});
  });

  it.each([
    ['a size that is not hex', 'zz\r\nabc\r\n0\r\n\r\n'],
    ['a chunk cut short', '10\r\nabc'],
    ['data not followed by CRLF', '3\r\nabcd\r\n0\r\n\r\n'],
    ['no CRLF at all', '3'],
  ])('throws on %s', (_what, raw) => {
    // Act + Assess
    expect(() => decodeAwsChunked(Buffer.from(raw))).toThrow(/aws-chunked/);
  });

  it('writes CRC32 as S3 does (big-endian, base64)', () => {
    // Assess: CRC32("123456789") = 0xCBF43926
    expect(crc32Base64(Buffer.from('123456789'))).toBe(
      Buffer.from([0xcb, 0xf4, 0x39, 0x26]).toString('base64'),
    );
  });
});
