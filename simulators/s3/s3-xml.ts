/** The XML bodies of the S3 REST API the emulator answers with (2006-03-01 namespace). */

const NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;',
  );
}

function el(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? '' : `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** `<Error><Code>…</Code><Message>…</Message>…<RequestId>…</RequestId></Error>` */
export function errorXml(
  code: string,
  message: string,
  extra: Record<string, string>,
  requestId: string,
): string {
  const fields = Object.entries(extra)
    .map(([k, v]) => el(k, v))
    .join('');
  return `${DECL}<Error>${el('Code', code)}${el('Message', message)}${fields}${el('RequestId', requestId)}</Error>`;
}

export interface ListedObject {
  key: string;
  lastModifiedMs: number;
  etag: string;
  size: number;
}

export interface ListV2Result {
  bucket: string;
  prefix: string;
  delimiter?: string;
  maxKeys: number;
  startAfter?: string;
  continuationToken?: string;
  nextContinuationToken?: string;
  encodingType?: 'url';
  contents: ListedObject[];
  commonPrefixes: string[];
}

export function listObjectsV2Xml(r: ListV2Result): string {
  const enc = (s: string | undefined) =>
    s !== undefined && r.encodingType === 'url' ? encodeURIComponent(s) : s;
  const contents = r.contents
    .map(
      (o) =>
        `<Contents>${el('Key', enc(o.key))}${el('LastModified', new Date(o.lastModifiedMs).toISOString())}` +
        `${el('ETag', o.etag)}${el('Size', o.size)}${el('StorageClass', 'STANDARD')}</Contents>`,
    )
    .join('');
  const prefixes = r.commonPrefixes
    .map((p) => `<CommonPrefixes>${el('Prefix', enc(p))}</CommonPrefixes>`)
    .join('');
  return (
    `${DECL}<ListBucketResult xmlns="${NS}">${el('Name', r.bucket)}${el('Prefix', enc(r.prefix))}` +
    `${el('Delimiter', enc(r.delimiter))}${el('MaxKeys', r.maxKeys)}` +
    `${el('KeyCount', r.contents.length + r.commonPrefixes.length)}` +
    `${el('IsTruncated', r.nextContinuationToken !== undefined)}` +
    `${el('ContinuationToken', r.continuationToken)}${el('NextContinuationToken', r.nextContinuationToken)}` +
    `${el('StartAfter', enc(r.startAfter))}${el('EncodingType', r.encodingType)}${contents}${prefixes}</ListBucketResult>`
  );
}
