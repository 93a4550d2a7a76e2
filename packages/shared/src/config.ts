import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { parseByteSize } from "./units.ts";

// Every setting mediaq reads from the environment. README.md "Configuration" documents
// each one; keep the two in step.
const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"], { error: "expected true or false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");
const bytes = z.string().transform((v, ctx) => {
  const n = parseByteSize(v);
  if (n === undefined) ctx.addIssue({ code: "custom", message: `expected a size such as 2GB or 524288 (got "${v}")` });
  return n ?? 0;
});
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export const configSchema = z.object({
  /** One Redis (redis:// or rediss:// for TLS); ignored when REDIS_SENTINELS is set. */
  REDIS_URL: z.string().url().default("redis://127.0.0.1:6379"),
  /**
   * Sentinels as host:port pairs, comma-separated: the primary is asked of them and followed
   * through failovers (docs/architecture.md#redis-failover). Takes precedence over REDIS_URL.
   */
  REDIS_SENTINELS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      const out: { host: string; port: number }[] = [];
      for (const pair of v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)) {
        const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(pair);
        const port = Number(m?.[2]);
        if (!m?.[1] || !(port > 0 && port < 65536)) {
          ctx.addIssue({ code: "custom", message: `expected host:port pairs, comma-separated (got "${pair}")` });
          return undefined;
        }
        out.push({ host: m[1], port });
      }
      if (out.length === 0) ctx.addIssue({ code: "custom", message: "expected at least one host:port" });
      return out;
    }),
  /** The primary's name in the Sentinels' configuration (`sentinel monitor <name> ...`). */
  REDIS_SENTINEL_NAME: z.string().min(1).optional(),
  /** Password of the Sentinels themselves (their `requirepass`), apart from the data password. */
  REDIS_SENTINEL_PASSWORD: z.string().optional(),
  /** Data nodes' user and password with REDIS_SENTINELS (with REDIS_URL they are in the URL). */
  REDIS_USERNAME: z.string().optional(),
  REDIS_PASSWORD: z.string().optional(),
  /** TLS to the data nodes and Sentinels with REDIS_SENTINELS (with REDIS_URL: use rediss://). */
  REDIS_TLS: bool.default(false),
  /** PEM files for TLS: the CA that signed the servers' certificates, and a client certificate and key. */
  REDIS_TLS_CA_FILE: z.string().optional(),
  REDIS_TLS_CERT_FILE: z.string().optional(),
  REDIS_TLS_KEY_FILE: z.string().optional(),
  /**
   * A worker, packager or notifier whose Redis connection is not back to ready this long
   * after a disconnect rebuilds its connections and BullMQ workers (docs/architecture.md#redis-failover).
   */
  REDIS_RECOVERY_SECONDS: z.coerce.number().positive().default(60),
  QUEUE_PREFIX: z.string().min(1).default("mediaq"),
  S3_ENDPOINT: z.string().url().optional(),
  S3_BUCKET: z.string().min(3).default("mediaq"),
  S3_REGION: z.string().min(1).default("us-east-1"),
  S3_FORCE_PATH_STYLE: bool.default(false),
  /**
   * The S3 address people outside the services reach (a published port, a public host):
   * presigned links are signed for it, while the services talk to S3_ENDPOINT.
   */
  S3_PUBLIC_ENDPOINT: z.string().url().optional(),
  /** Path-style presigned links; default: S3_FORCE_PATH_STYLE. */
  S3_PUBLIC_FORCE_PATH_STYLE: bool.optional(),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  S3_CHECKSUMS: z.enum(["WHEN_REQUIRED", "WHEN_SUPPORTED"]).default("WHEN_REQUIRED"),
  CACHE_ROOT: z.string().min(1).default(path.join(os.tmpdir(), "mediaq-cache")),
  CACHE_TTL_SECONDS: int(0).default(3600),
  CACHE_SWEEP_INTERVAL_SECONDS: int(1).default(300),
  AUTO_CLEAR_CACHE: bool.default(true),
  MIN_FREE_DISK_BYTES: bytes.default(1024 ** 3),
  ORT_EXECUTION_PROVIDER: z.enum(["cpu", "cuda", "auto"]).default("cpu"),
  GPU_DEVICE_ID: int(0).default(0),
  /** H.264 encoder: auto = h264_nvenc when ffmpeg has it and the card is present, else libx264. */
  VIDEO_ENCODER: z.enum(["auto", "libx264", "h264_nvenc"]).default("auto"),
  /** Video decoding: auto = on the card (NVDEC, ffmpeg's cuda hwaccel) when present, else on the CPU. */
  VIDEO_DECODER: z.enum(["auto", "cpu", "cuda"]).default("auto"),
  /** Frames per model call; a throughput setting of the worker, not part of the job key. */
  INFERENCE_BATCH_SIZE: int(1, 256).default(16),
  JOB_ATTEMPTS: int(1, 100).default(3),
  /**
   * Let the next two item jobs fetch, probe, decode and encode while the current one holds the
   * card (segments always run one at a time). Off by default: a worker that dies takes every
   * job it holds with it, so a poison item would spend its neighbours' attempts
   * (docs/architecture.md#fixed-costs-per-item).
   */
  WORKER_PREFETCH: bool.default(false),
  /** How often the free-disk guard looks at CACHE_ROOT's filesystem. */
  WORKER_DISK_CHECK_SECONDS: z.coerce.number().positive().default(5),
  /** On SIGTERM, how long the current job may keep running before it is handed back. */
  WORKER_SHUTDOWN_GRACE_SECONDS: z.coerce.number().min(0).default(30),
  /**
   * BullMQ lock: how soon after an unsupervised worker dies its job counts as stalled and runs
   * elsewhere (docs/architecture.md#worker-deaths says why 8 s is safe).
   */
  WORKER_LOCK_DURATION_MS: int(200).default(8000),
  /** How often each worker looks for jobs whose worker died (a death is found <= lock + this). */
  WORKER_STALLED_INTERVAL_MS: int(100).default(2000),
  /**
   * The worker's BullMQ name (job.processedBy): a supervisor names each child so it can hand
   * the child's jobs back when it dies. Unset: hostname, pid, card and a random suffix.
   */
  WORKER_NAME: z.string().min(1).optional(),
  MAX_FRAME_PIXELS: int(1).default(1920 * 1080),
  /** Decoded frames held to play a clip backwards (ping-pong loops); at least one frame is held. */
  LOOP_BUFFER_BYTES: bytes.default(256 * 1024 ** 2),
  /**
   * Seconds of work per segment: an item that would take longer is cut into segments, each
   * its own job, sized by the frame cost this worker measured (real time until it has one:
   * a frame costs its own duration); see docs/architecture.md#segments.
   */
  SEGMENT_SECONDS: z.coerce.number().positive().default(15),
  /** Bytes of fetched inputs a worker keeps under CACHE_ROOT/inputs for later jobs and segments (0: none). */
  INPUT_CACHE_BYTES: bytes.default(2 * 1024 ** 3),
  /** Lossless video (libx264 -qp 0, NVENC -tune lossless): outputs compare frame for frame. */
  VIDEO_LOSSLESS: bool.default(false),
  PACKAGE_PART_SIZE: bytes.default(2 * 1024 ** 3),
  /** How often expired packages' objects are deleted. */
  PACKAGE_SWEEP_INTERVAL_SECONDS: int(1).default(600),
  /** Part jobs (of any package) one packager builds at the same time. */
  PACKAGE_PART_CONCURRENCY: int(1, 16).default(2),
  /** Package jobs (planning, final manifest) one packager runs at the same time. */
  PACKAGE_JOB_CONCURRENCY: int(1, 16).default(1),
  /** Lock of a running package job; a killed packager's part is rebuilt about this long after. */
  PACKAGE_LOCK_SECONDS: int(1, 600).default(30),
  PRESIGN_EXPIRES_SECONDS: int(1, MAX_PRESIGN_SECONDS).default(24 * 3600),
  /** Staged uploads never completed (or cut off by an API crash) are deleted after this long. */
  UPLOAD_STAGING_TTL_SECONDS: int(60).default(24 * 3600),
  API_HOST: z.string().default("0.0.0.0"),
  API_PORT: int(0, 65535).default(8080),
  /** `tenant:key` or `tenant:sha256:<hex digest of the key>` pairs, comma-separated. */
  API_KEYS: z.string().default(""),
  /** A file of more API_KEYS pairs (one per line); re-read on change and on SIGHUP. */
  API_KEYS_FILE: z.string().min(1).optional(),
  ADMIN_KEY: z.string().optional(),
  /** Requests per tenant per minute on /v1 (0 = no limit). */
  RATE_LIMIT_PER_MINUTE: int(0).default(6000),
  /** Failed authentications per client address per minute before 429 (on /v1 and /admin). */
  AUTH_FAILURES_PER_MINUTE: int(1).default(30),
  /** Event streams one tenant may hold open on one API process. */
  MAX_EVENT_STREAMS_PER_TENANT: int(1).default(16),
  /** Take the client address from X-Forwarded-For: `true` (any proxy) or the proxies' addresses/CIDRs, comma-separated. */
  TRUST_PROXY: z
    .string()
    .default("false")
    .transform((v): boolean | string[] =>
      v === "true" ? true : v === "false" ? false : v.split(",").map((s) => s.trim()),
    ),
  /** Bearer token for the API's /metrics; without it (and without METRICS_PORT) /metrics is off. */
  METRICS_TOKEN: z.string().min(16, "use at least 16 characters").optional(),
  /** Address every service's metrics listener binds (with METRICS_PORT). */
  METRICS_HOST: z.string().default("127.0.0.1"),
  DEDUP_SCOPE: z.enum(["tenant", "global"]).default("tenant"),
  /** A finished batch (items, counters, events) is kept this many days after it finished. */
  BATCH_RETENTION_DAYS: z.coerce.number().positive().default(30),
  /**
   * An outbox entry (an item made pending whose queue job may be unwritten) older than this
   * is taken for a writer that died between ledger and queue and is queued by the repair;
   * each API process repairs every half of it, also when no request comes.
   */
  OUTBOX_GRACE_SECONDS: int(1).default(60),
  /** How long an Idempotency-Key is remembered (seconds, default 24 h). */
  IDEMPOTENCY_TTL_SECONDS: int(1).default(24 * 3600),
  MAX_JSON_BODY_BYTES: bytes.default(16 * 1024 ** 2),
  /** How many ledger snapshots to keep; older ones are deleted after each new one. */
  SNAPSHOT_RETENTION: int(1, 10_000).default(7),
  /** Period of the scheduled ledger snapshot; 0 disables it. */
  SNAPSHOT_EVERY_SECONDS: int(0).default(3600),
  /** Prometheus metrics on a separate listener at this port (the API binds it to METRICS_HOST). */
  METRICS_PORT: int(0, 65535).optional(),
  /** Webhooks may use plain http URLs (development); https only otherwise. */
  WEBHOOK_ALLOW_HTTP: bool.default(false),
  /** TEST ONLY: webhooks may go to 127.0.0.0/8 and ::1. Refused when NODE_ENV=production. */
  WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS: bool.default(false),
  /** Attempts per delivery; with WEBHOOK_BACKOFF_MS the defaults spread them over about 23 h. */
  WEBHOOK_ATTEMPTS: int(1, 30).default(15),
  /** First retry delay; each next one doubles (BullMQ exponential backoff). */
  WEBHOOK_BACKOFF_MS: int(1).default(5000),
  /** Connect + answer time allowed per delivery attempt. */
  WEBHOOK_TIMEOUT_MS: int(100).default(10_000),
  /** Response bytes read from an endpoint; a longer answer fails the attempt. */
  WEBHOOK_MAX_RESPONSE_BYTES: bytes.default(64 * 1024),
  /** Deliveries one notifier sends at the same time. */
  WEBHOOK_CONCURRENCY: int(1, 256).default(16),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  LOG_PRETTY: bool.default(false),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Reads the configuration; a bad value throws a ConfigError naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset, as in most .env tooling.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = configSchema.safeParse(present);
  if (parsed.success) {
    if (parsed.data.WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS && env.NODE_ENV === "production")
      throw new ConfigError(
        "Invalid configuration:\n  WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS=true: test only, refused with NODE_ENV=production",
      );
    const redisProblems = redisSettingProblems(parsed.data);
    if (redisProblems.length > 0) throw new ConfigError(`Invalid configuration:\n${redisProblems.join("\n")}`);
    return parsed.data;
  }
  const lines = parsed.error.issues.map((i) => {
    const name = String(i.path[0] ?? "?");
    return `  ${name}=${JSON.stringify(env[name] ?? "")}: ${i.message}`;
  });
  throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
}

/** What is wrong with the Redis settings as a whole: a Sentinel list without a name, a TLS file missing. */
function redisSettingProblems(c: Config): string[] {
  const problems: string[] = [];
  if (c.REDIS_SENTINELS && !c.REDIS_SENTINEL_NAME)
    problems.push(
      "  REDIS_SENTINEL_NAME is not set: REDIS_SENTINELS needs the name the Sentinels monitor the primary under",
    );
  if (c.REDIS_SENTINEL_NAME && !c.REDIS_SENTINELS)
    problems.push("  REDIS_SENTINEL_NAME is set without REDIS_SENTINELS: list the Sentinels as host:port pairs");
  for (const name of ["REDIS_TLS_CA_FILE", "REDIS_TLS_CERT_FILE", "REDIS_TLS_KEY_FILE"] as const) {
    const file = c[name];
    if (file && !fs.existsSync(file)) problems.push(`  ${name}=${JSON.stringify(file)}: no such file`);
  }
  if (Boolean(c.REDIS_TLS_CERT_FILE) !== Boolean(c.REDIS_TLS_KEY_FILE))
    problems.push("  REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE: a client certificate needs both");
  return problems;
}

export interface ApiKeyEntry {
  tenant: string;
  /** SHA-256 of the key: the only form the API keeps. */
  digest: Buffer;
  /** The key itself, when the spec held it in plain text (mediaq dev needs one to drive its stack). */
  key?: string;
}

const DIGEST_FORM = /^sha256:([0-9a-f]{64})$/;

/** The SHA-256 of a secret (an API key, a token): 32 bytes whatever the secret's length. */
export const secretDigest = (secret: string): Buffer => createHash("sha256").update(secret).digest();

/** The API_KEYS entry that stores only the key's digest. */
export const apiKeyEntry = (tenant: string, key: string): string =>
  `${tenant}:sha256:${secretDigest(key).toString("hex")}`;

/**
 * `tenant:key` or `tenant:sha256:<hex>` pairs, separated by commas or new lines (`#` starts
 * a comment line). A plain key is hashed at once; `mediaq key` prints the digest form.
 */
export function parseApiKeys(spec: string, source = "API_KEYS"): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  for (const pair of spec
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s && !s.startsWith("#"))) {
    const at = pair.indexOf(":");
    if (at <= 0 || at === pair.length - 1)
      throw new ConfigError(
        `${source}: expected tenant:key or tenant:sha256:<hex> pairs, got "${pair.slice(0, at + 1)}..."`,
      );
    const tenant = pair.slice(0, at);
    const value = pair.slice(at + 1);
    const digestForm = DIGEST_FORM.exec(value);
    entries.push(
      digestForm?.[1]
        ? { tenant, digest: Buffer.from(digestForm[1], "hex") }
        : { tenant, digest: secretDigest(value), key: value },
    );
  }
  return entries;
}
