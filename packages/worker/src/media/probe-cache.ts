import { type Probed, probeFile } from "./probe.ts";

/** Blobs whose probe a worker remembers: one entry is a few kB of ffprobe JSON. */
const MAX_ENTRIES = 4096;

/**
 * ffprobe's answer for each blob, once per worker process: inputs are content-addressed, so
 * a blob's probe never changes, and a batch that puts one clip under many audios (or a
 * video's face track, then its items) probes it once (docs/architecture.md#probes-audio-and-decoded-clips).
 * Probes in flight are shared; a failed one is forgotten (it is retried with the next job).
 * Least recently used entries go first.
 */
export class ProbeCache {
  private readonly entries = new Map<string, Promise<Probed>>();

  /** The probe of blob `sha256`, whose bytes are at `file`. */
  probe(sha256: string, file: string, label: string): Promise<Probed> {
    const known = this.entries.get(sha256);
    if (known) {
      this.entries.delete(sha256); // re-inserted: the newest use goes last
      this.entries.set(sha256, known);
      return known;
    }
    const probing = probeFile(file, label);
    this.entries.set(sha256, probing);
    probing.catch(() => {
      if (this.entries.get(sha256) === probing) this.entries.delete(sha256);
    });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= MAX_ENTRIES) break;
      this.entries.delete(oldest);
    }
    return probing;
  }
}
