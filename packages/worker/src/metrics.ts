import { createMetricsRegistry } from "@mediaq/shared";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export type JobOutcome = "succeeded" | "failed" | "retried" | "skipped" | "handed_back";

// Names are the ones the issue, the Grafana dashboard and the alerts use (no "worker_" infix).

export interface WorkerMetrics {
  registry: Registry;
  jobs: Counter<"outcome">;
  jobSeconds: Histogram<"outcome">;
  stageSeconds: Histogram<"stage">;
  inferenceSeconds: Histogram;
  scratchBytes: Gauge;
  scratchFreedBytes: Counter;
  scratchCleanupFailures: Counter;
  bytesUploaded: Counter;
  /** 1 while the free-disk guard keeps the worker from taking jobs. */
  diskPaused: Gauge;
}

export function createWorkerMetrics(): WorkerMetrics {
  const registry = createMetricsRegistry("worker");
  return {
    registry,
    jobs: new Counter({
      name: "mediaq_jobs_total",
      help: "Inference jobs handled, by outcome",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    jobSeconds: new Histogram({
      name: "mediaq_job_duration_seconds",
      help: "Wall time of an inference job that ran its pipeline, by outcome",
      labelNames: ["outcome"],
      buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 180, 600, 1800, 3600],
      registers: [registry],
    }),
    stageSeconds: new Histogram({
      name: "mediaq_stage_duration_seconds",
      help: "Time spent per pipeline stage",
      labelNames: ["stage"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600],
      registers: [registry],
    }),
    inferenceSeconds: new Histogram({
      name: "mediaq_inference_seconds",
      help: "Time inside model calls (session.run) per job",
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600, 1800],
      registers: [registry],
    }),
    scratchBytes: new Gauge({
      name: "mediaq_scratch_bytes",
      help: "Bytes in this process's job scratch directories (0 when idle)",
      registers: [registry],
    }),
    scratchFreedBytes: new Counter({
      name: "mediaq_scratch_freed_bytes_total",
      help: "Bytes removed from scratch: finished jobs and swept orphaned directories",
      registers: [registry],
    }),
    scratchCleanupFailures: new Counter({
      name: "mediaq_scratch_cleanup_failures_total",
      help: "Scratch directories that could not be removed",
      registers: [registry],
    }),
    bytesUploaded: new Counter({
      name: "mediaq_bytes_uploaded_total",
      help: "Output bytes uploaded to S3",
      registers: [registry],
    }),
    diskPaused: new Gauge({
      name: "mediaq_worker_disk_paused",
      help: "1 while free disk under CACHE_ROOT is below MIN_FREE_DISK_BYTES and the worker takes no jobs",
      registers: [registry],
    }),
  };
}
