import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { z } from "zod";

export { canonicalJson } from "./canonical-json.ts";

export const SHA256_HEX = /^[0-9a-f]{64}$/;
export const sha256Schema = z.string().regex(SHA256_HEX, "expected a lowercase hex SHA-256");

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A pass-through stream that hashes and counts what flows through it. */
export class HashingStream extends Transform {
  private readonly hash = createHash("sha256");
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }
  /** Valid once the stream has ended. */
  digest(): string {
    return this.hash.digest("hex");
  }
}
