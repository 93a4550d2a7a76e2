import { createMetricsRegistry } from "@mediaq/shared";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export type JobOutcome = "succeeded" | "failed" | "retried" | "skipped" | "handed_back";

export interface WorkerMetrics {
  registry: Registry;
  jobs: Counter<"outcome">;
  stageSeconds: Histogram<"stage">;
  inferenceSeconds: Histogram;
  scratchBytes: Gauge;
}

export function createWorkerMetrics(): WorkerMetrics {
  const registry = createMetricsRegistry("worker");
  return {
    registry,
    jobs: new Counter({
      name: "mediaq_worker_jobs_total",
      help: "Inference jobs handled, by outcome",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    stageSeconds: new Histogram({
      name: "mediaq_worker_stage_seconds",
      help: "Time spent per pipeline stage",
      labelNames: ["stage"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600],
      registers: [registry],
    }),
    inferenceSeconds: new Histogram({
      name: "mediaq_worker_inference_seconds",
      help: "Time inside model calls per job",
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600, 1800],
      registers: [registry],
    }),
    scratchBytes: new Gauge({
      name: "mediaq_worker_scratch_bytes",
      help: "Bytes in the current job's scratch directory (0 when idle)",
      registers: [registry],
    }),
  };
}
