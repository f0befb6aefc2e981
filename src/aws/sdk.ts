/**
 * The AWS SDK, loaded on first use.
 *
 * Importing the SDK costs ~0.35 s (client-s3 ~0.25 s, client-dynamodb ~0.08 s, measured on the
 * 2-core CI host), and every command used to pay it at start-up, although most runs (a local
 * warehouse and a JobSpec directory) never call AWS. Modules import the SDK's types only
 * (`import type`) and take its values from these loaders, which `require` the SDK's CommonJS
 * build the first time they are called, so that client factories stay synchronous.
 *
 * One copy of each package is loaded: nothing in src/ imports SDK values any other way (a test
 * guards it). Tests that build their own clients from the ES module build pass them in; commands
 * from one build are sent by clients of the other unchanged (the SDK dispatches by method, not by
 * class), and SDK errors are recognised by name (aws/errors.ts), never by instanceof.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function lazy<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(id) as T);
}

export const s3Sdk = lazy<typeof import('@aws-sdk/client-s3')>('@aws-sdk/client-s3');
export const s3UploadSdk = lazy<typeof import('@aws-sdk/lib-storage')>('@aws-sdk/lib-storage');
export const dynamoSdk = lazy<typeof import('@aws-sdk/client-dynamodb')>('@aws-sdk/client-dynamodb');
export const dynamoDocSdk = lazy<typeof import('@aws-sdk/lib-dynamodb')>('@aws-sdk/lib-dynamodb');
export const featureStoreSdk = lazy<typeof import('@aws-sdk/client-sagemaker-featurestore-runtime')>(
  '@aws-sdk/client-sagemaker-featurestore-runtime',
);
