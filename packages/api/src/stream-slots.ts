import { HttpProblem } from "./problem.ts";

/**
 * Open event streams per tenant on this API process. Each stream holds a Redis connection
 * (XREAD BLOCK) and a socket, so one tenant may hold at most `max` of them; the next is
 * refused with 429 until one closes.
 */
export class StreamSlots {
  private readonly open = new Map<string, number>();

  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** Takes a slot for the tenant, or throws 429. Returns the release (safe to call twice). */
  take(tenant: string): () => void {
    const held = this.open.get(tenant) ?? 0;
    if (held >= this.max)
      throw new HttpProblem(
        429,
        "too-many-streams",
        "Too Many Requests",
        `This API key holds ${held} open event streams, the most one API process allows (MAX_EVENT_STREAMS_PER_TENANT); close one and retry.`,
      );
    this.open.set(tenant, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(tenant) ?? 1) - 1;
      if (left > 0) this.open.set(tenant, left);
      else this.open.delete(tenant);
    };
  }
}
