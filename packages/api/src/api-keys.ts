import { timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import { type ApiKeyEntry, type Logger, parseApiKeys, secretDigest } from "@mediaq/shared";

/** Compares two equal-length digests; crypto.timingSafeEqual unless a test wraps it. */
export type DigestCompare = (a: Buffer, b: Buffer) => boolean;

/** Constant-time equality of two secrets of any length: their 32-byte digests are compared. */
export function sameSecret(given: string, expected: string, compare: DigestCompare = timingSafeEqual): boolean {
  return compare(secretDigest(given), secretDigest(expected));
}

/**
 * API key -> tenant. Only digests are kept; a lookup hashes the presented key and compares
 * it with every stored digest in constant time, without stopping at a match, so neither the
 * key's length nor its position in the list changes the work done
 * (docs/architecture.md#security). reload() swaps the whole set at once: keys rotate
 * without a restart.
 */
export class KeyRing {
  private entries: ApiKeyEntry[] = [];

  private readonly spec: string;
  private readonly file?: string;
  private readonly compare: DigestCompare;

  constructor(spec: string, file?: string, compare: DigestCompare = timingSafeEqual) {
    this.spec = spec;
    this.file = file;
    this.compare = compare;
    this.reload();
  }

  get size(): number {
    return this.entries.length;
  }

  /** Re-reads API_KEYS and API_KEYS_FILE; throws (keeping the old set) when either is malformed. */
  reload(): void {
    const fromFile = this.file ? parseApiKeys(fs.readFileSync(this.file, "utf8"), "API_KEYS_FILE") : [];
    this.entries = [...parseApiKeys(this.spec), ...fromFile];
  }

  /** The key's tenant, or undefined. */
  tenantOf(key: string): string | undefined {
    const digest = secretDigest(key);
    let tenant: string | undefined;
    for (const entry of this.entries) {
      if (this.compare(digest, entry.digest) && tenant === undefined) tenant = entry.tenant;
    }
    return tenant;
  }

  /**
   * Reloads when API_KEYS_FILE changes (polled, so editors that replace the file are seen
   * too). A bad file is logged and the previous keys stay. Returns a function that stops it.
   */
  watch(logger: Logger, intervalMs = 1000): () => void {
    const file = this.file;
    if (!file) return () => {};
    const onChange = (now: fs.Stats, before: fs.Stats) => {
      if (now.mtimeMs === before.mtimeMs && now.size === before.size) return;
      this.reloadLogged(logger, "file changed");
    };
    fs.watchFile(file, { interval: intervalMs, persistent: false }, onChange);
    return () => fs.unwatchFile(file, onChange);
  }

  reloadLogged(logger: Logger, reason: string): void {
    try {
      this.reload();
      logger.info(
        { reason, keys: this.size, tenants: [...new Set(this.entries.map((e) => e.tenant))] },
        "API keys reloaded",
      );
    } catch (err) {
      logger.error({ reason, err: (err as Error).message }, "API keys not reloaded; the previous keys stay");
    }
  }
}
