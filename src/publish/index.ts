/**
 * Feature-store publish (ARCHITECTURE.md; seed bug class 10: per-row
 * put_record from Spark was slow and lost failures).
 *
 *   const summary = await publish({ session, files, spec, target: 'offline', batchId, workDir });
 *   log(formatPublishSummary(summary)); process.exitCode = publishExitCode(summary);
 */
import type { PublishSummary } from './common.ts';
import { publishOffline } from './offline.ts';
import { publishOnline, type OnlinePublishOptions } from './online.ts';
import type { PublishTarget } from './spec.ts';

export async function publish(opts: OnlinePublishOptions & { target: PublishTarget }): Promise<PublishSummary> {
  return opts.target === 'online' ? publishOnline(opts) : publishOffline(opts);
}

export {
  formatPublishSummary,
  publishExitCode,
  resolveFeatureGroup,
  safeBatchName,
  type OfflineFile,
  type PublishOptions,
  type PublishSummary,
  type RowFailure,
} from './common.ts';
export { offlineLocations, publishOffline, type PublicationRecord } from './offline.ts';
export { classifyPutRecordError, describeError, makeFeatureStoreClient, publishOnline, type OnlinePublishOptions } from './online.ts';
export { DEAD_LETTER_COLUMNS, columnKind } from './records.ts';
export {
  FS_NAME,
  FS_RESERVED,
  NAN_POLICIES,
  PUBLISH_TARGETS,
  publishSectionSchema,
  publishSpecSchema,
  publishSpecFor,
  retryBudgetFor,
  type NanPolicy,
  type PublishSpec,
  type PublishSpecInput,
  type PublishTarget,
} from './spec.ts';
export { makeS3Client, ObjectStore, parseStoreUri, type AwsOptions } from './store.ts';
