import fs from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import { type Config, HashingStream, type Logger } from "@mediaq/shared";
import { InferenceSession } from "onnxruntime-node";
import { BadInputError } from "./errors.ts";
import { fetchBlob } from "./fetch.ts";

type ProviderConfig = Pick<Config, "ORT_EXECUTION_PROVIDER" | "GPU_DEVICE_ID">;

/**
 * ONNX Runtime sessions kept per model hash for the life of the process. Model bytes are
 * the blob objectKeys.blob(sha256), downloaded once to CACHE_ROOT/models/<sha256>.onnx and
 * checked against their hash.
 */
export class ModelCache {
  private readonly sessions = new Map<string, Promise<InferenceSession>>();
  private cudaWarned = false;

  constructor(
    private readonly s3: S3Client,
    private readonly config: Pick<Config, "S3_BUCKET" | "CACHE_ROOT"> & ProviderConfig,
    private readonly log: Logger,
  ) {}

  get(sha256: string): Promise<InferenceSession> {
    let session = this.sessions.get(sha256);
    if (!session) {
      session = this.load(sha256);
      this.sessions.set(sha256, session);
      // A failed load is not remembered: the next job tries again.
      session.catch(() => this.sessions.delete(sha256));
    }
    return session;
  }

  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.allSettled(all.map(async (s) => (await s).release()));
  }

  private async load(sha256: string): Promise<InferenceSession> {
    const file = await this.download(sha256);
    const label = `model ${sha256.slice(0, 12)}`;
    const provider = this.config.ORT_EXECUTION_PROVIDER;
    if (provider !== "cpu") {
      try {
        return await InferenceSession.create(file, {
          executionProviders: [{ name: "cuda", deviceId: this.config.GPU_DEVICE_ID }],
        });
      } catch (err) {
        if (provider === "cuda")
          throw new Error(`CUDA execution provider unavailable for ${label}: ${(err as Error).message}`);
        if (!this.cudaWarned) {
          this.cudaWarned = true;
          this.log.warn({ err: (err as Error).message }, "ORT_EXECUTION_PROVIDER=auto: CUDA unavailable, using CPU");
        }
      }
    }
    try {
      return await InferenceSession.create(file, { executionProviders: ["cpu"] });
    } catch (err) {
      const detail = (err as Error).message.split("\n")[0];
      throw new BadInputError(`${label} could not be loaded by onnxruntime (is it an ONNX model?): ${detail}`);
    }
  }

  private async download(sha256: string): Promise<string> {
    const dir = path.join(this.config.CACHE_ROOT, "models");
    const file = path.join(dir, `${sha256}.onnx`);
    if (fs.existsSync(file)) return file;
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.part`;
    const hash = new HashingStream();
    try {
      await fetchBlob(this.s3, this.config.S3_BUCKET, sha256, "model", async (body) => {
        await pipeline(body, hash, fs.createWriteStream(tmp));
      });
      if (hash.digest() !== sha256)
        throw new Error(`model blob ${sha256} does not match its hash; refusing to load it`);
      fs.renameSync(tmp, file); // atomic: a half-downloaded model is never found under its name
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    return file;
  }
}
