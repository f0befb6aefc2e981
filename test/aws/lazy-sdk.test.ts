/**
 * The AWS SDK is loaded on first use (src/aws/sdk.ts): importing it costs ~0.35 s, which every
 * command paid at start-up before. These checks keep it that way: src/ takes SDK values only from
 * the loaders (a value import anywhere else would load the SDK eagerly, and a second copy of it),
 * and the loaders return the real SDK.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dynamoDocSdk, dynamoSdk, featureStoreSdk, s3Sdk, s3UploadSdk } from '../../src/aws/sdk.ts';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('lazy AWS SDK', () => {
  it('src/ imports only SDK types, outside src/aws/sdk.ts', () => {
    const offenders = sourceFiles('src')
      .filter((f) => !f.endsWith(join('aws', 'sdk.ts')))
      .flatMap((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .filter((line) => /from '@aws-sdk\//.test(line) || /import\('@aws-sdk\//.test(line))
          .filter((line) => !/^import type /.test(line))
          .map((line) => `${f}: ${line.trim()}`),
      );
    expect(offenders).toEqual([]);
  });

  it('the loaders return the SDK, once', () => {
    expect(typeof s3Sdk().S3Client).toBe('function');
    expect(typeof s3Sdk().GetObjectCommand).toBe('function');
    expect(typeof s3UploadSdk().Upload).toBe('function');
    expect(typeof dynamoSdk().DynamoDBClient).toBe('function');
    expect(typeof dynamoDocSdk().DynamoDBDocumentClient.from).toBe('function');
    expect(typeof featureStoreSdk().PutRecordCommand).toBe('function');
    expect(s3Sdk()).toBe(s3Sdk());
  });
});
