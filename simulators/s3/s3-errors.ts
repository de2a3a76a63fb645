/** S3's REST errors the emulator sends: status, code and the XML body's extra fields. */
export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

export const noSuchBucket = (bucket: string) =>
  new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });

export const noSuchKey = (key: string) =>
  new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });

export const notImplemented = (what: string) =>
  new S3Error(501, 'NotImplemented', `The S3 emulator does not implement ${what}`);

export const invalidArgument = (message: string, name?: string, value?: string) =>
  new S3Error(
    400,
    'InvalidArgument',
    message,
    name === undefined ? {} : { ArgumentName: name, ArgumentValue: value ?? '' },
  );
