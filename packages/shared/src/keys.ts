/** Where things live in S3. The bucket stays private; people get presigned links. */
export const objectKeys = {
  blob: (sha256: string) => `blobs/sha256/${sha256}`,
  output: (jobKey: string, file: string) => `outputs/${jobKey}/${file}`,
  outputsPrefix: "outputs/",
  track: (trackKey: string) => `tracks/${trackKey}/track.json`,
  packagePrefix: (packageId: string) => `packages/${packageId}/`,
  packageObject: (packageId: string, name: string) => `packages/${packageId}/${name}`,
  snapshot: (id: string) => `snapshots/${id}.json.gz`,
  snapshotsPrefix: "snapshots/",
};

/** Where things live in Redis (the ledger); BullMQ keeps its own keys under QUEUE_PREFIX. */
export const redisKeys = {
  result: (jobKey: string) => `mediaq:result:${jobKey}`,
  job: (jobKey: string) => `mediaq:job:${jobKey}`,
  waiters: (jobKey: string) => `mediaq:job:${jobKey}:waiters`,
  batch: (id: string) => `mediaq:batch:${id}`,
  batchItems: (id: string) => `mediaq:batch:${id}:items`,
  batchNames: (id: string) => `mediaq:batch:${id}:names`,
  batchCounts: (id: string) => `mediaq:batch:${id}:counts`,
  batchEvents: (id: string) => `mediaq:batch:${id}:events`,
  tenantBatches: (tenant: string) => `mediaq:tenant:${tenant}:batches`,
  tenantBlobs: (tenant: string) => `mediaq:tenant:${tenant}:blobs`,
  tenantModels: (tenant: string) => `mediaq:tenant:${tenant}:models`,
  idempotency: (tenant: string, key: string) => `mediaq:tenant:${tenant}:idem:${key}`,
  // Not mediaq:package:<id>: with QUEUE_PREFIX=mediaq that is BullMQ's hash for the
  // package job, whose job id is the package id.
  package: (id: string) => `mediaq:pkg:${id}`,
  /** How many times a model actually ran (fault tests count redone work with it). */
  inferenceRuns: "mediaq:stats:inference-runs",
  /** Face tracks: the ledger's index of tracks/<trackKey>/track.json (JSON FaceTrackRecord, runs). */
  track: (trackKey: string) => `mediaq:track:${trackKey}`,
  /** How many times face detection actually ran over a video (tests assert it runs once per video). */
  detectionRuns: "mediaq:stats:detection-runs",
  /** Prefix used inside Lua scripts to reach per-batch keys. */
  root: "mediaq:",
};
