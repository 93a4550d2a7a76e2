import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import {
  createRedis,
  createS3,
  describeHandedBack,
  dropSegmentPieces,
  handBackJobsOf,
  Ledger,
  ledgerOptionsFrom,
  loadConfig,
  openWorkerQueues,
} from "@mediaq/shared";
import type { Managed } from "./embedded/process.ts";
import { spawnService } from "./dev-stack.ts";

/** Card indexes from `--gpus all|0,1`; "all" asks nvidia-smi (none found = one CPU worker). */
export function parseGpus(spec: string): number[] {
  if (spec === "all") {
    try {
      const out = execFileSync("nvidia-smi", ["--query-gpu=index", "--format=csv,noheader"], { encoding: "utf8" });
      const cards = out
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)
        .map(Number);
      return cards.length > 0 ? cards : [0];
    } catch {
      return [0];
    }
  }
  const cards = spec.split(",").map((s) => Number(s.trim()));
  if (cards.some((c) => !Number.isInteger(c) || c < 0))
    throw new Error(`--gpus: expected "all" or card numbers like 0,1; got "${spec}"`);
  return [...new Set(cards)];
}

export interface SupervisorOptions {
  cards: number[];
  /** First restart delay; doubles per crash in a row, capped at maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A child that lived this long is healthy again: its delay resets. */
  healthyAfterMs?: number;
  env?: Record<string, string>;
  log?: (line: string) => void;
  /** Children's output: this terminal (default) or one file per card, <logDir>/worker-<card>.log. */
  logDir?: string;
}

export interface Supervisor {
  stop(): Promise<void>;
  children(): Managed[];
}

/**
 * One worker process per card (each BullMQ concurrency 1 bound to its card through
 * GPU_DEVICE_ID and CUDA_VISIBLE_DEVICES). Each child gets its own WORKER_NAME; when a child
 * dies, the jobs it held go back to the queue at once (handBackJobsOf, no attempt spent) and
 * the child is started again after a growing delay (docs/architecture.md#worker-deaths).
 * stop() sends SIGTERM to all and waits for them to drain.
 */
export function superviseWorkers(o: SupervisorOptions): Supervisor {
  const { baseDelayMs = 1000, maxDelayMs = 60_000, healthyAfterMs = 60_000, log = console.error } = o;
  const config = loadConfig({ ...process.env, ...o.env });
  const [ledgerRedis, queueRedis] = [createRedis(config), createRedis(config)];
  for (const c of [ledgerRedis, queueRedis]) c.on("error", (err) => log(`supervisor: redis: ${err.message}`));
  const ledger = new Ledger(ledgerRedis, ledgerOptionsFrom(config));
  const s3 = createS3(config);
  const queues = openWorkerQueues(queueRedis, config);
  for (const q of queues) q.on("error", (err) => log(`supervisor: queue ${q.name}: ${err.message}`));
  let stopping = false;
  let started = 0;
  const current = new Map<number, Managed>();
  const handBack = async (name: string, card: number) => {
    try {
      const handed = await handBackJobsOf(name, queues, ledger, config.JOB_ATTEMPTS, {
        dropPieces: (jobKey) => dropSegmentPieces(ledger, s3, config.S3_BUCKET, jobKey),
      });
      if (handed.length > 0) log(`worker for card ${card}: handed back ${handed.map(describeHandedBack).join(", ")}`);
    } catch (err) {
      // Redis unreachable: the jobs come back through BullMQ's stalled check instead.
      log(`worker for card ${card}: could not hand its jobs back (${(err as Error).message})`);
    }
  };
  const start = (card: number, crashes: number) => {
    const startedAt = Date.now();
    const name = `${os.hostname()}-sup${process.pid}-gpu${card}-${++started}`;
    const output = o.logDir ? { logFile: path.join(o.logDir, `worker-${card}.log`) } : "inherit";
    const child = spawnService(
      "worker",
      { ...o.env, GPU_DEVICE_ID: String(card), CUDA_VISIBLE_DEVICES: String(card), WORKER_NAME: name },
      output,
    );
    current.set(card, child);
    child.child.once("exit", async (code, signal) => {
      if (stopping) return;
      const streak = Date.now() - startedAt > healthyAfterMs ? 0 : crashes + 1;
      const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, streak - 1));
      log(`worker for card ${card} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
      await handBack(name, card);
      setTimeout(() => stopping || start(card, streak), delay);
    });
  };
  for (const card of o.cards) start(card, 0);
  return {
    children: () => [...current.values()],
    async stop() {
      stopping = true;
      await Promise.all([...current.values()].map((c) => c.stop(10 * 60_000)));
      await Promise.all(queues.map((q) => q.close()));
      await Promise.allSettled([ledgerRedis.quit(), queueRedis.quit()]);
      s3.destroy();
    },
  };
}
