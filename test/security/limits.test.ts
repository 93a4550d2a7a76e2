import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiProcess, json, KEY_A, problemOf, startApiProcess } from "./api-process.ts";

const MiB = 1024 ** 2;

/**
 * Sends only the head of a request that declares a large body, and reads the answer: an
 * answer that arrives while the body is still unsent proves it was given before any of the
 * body was read.
 */
async function headOnly(port: number, head: string): Promise<{ status: number; text: string }> {
  const socket = net.connect(port, "127.0.0.1");
  socket.setEncoding("utf8");
  let text = "";
  socket.on("data", (d) => {
    text += d;
  });
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.write(head);
  const complete = () => {
    const split = text.indexOf("\r\n\r\n");
    if (split < 0) return false;
    const length = Number(/content-length: (\d+)/i.exec(text.slice(0, split))?.[1] ?? 0);
    return text.length >= split + 4 + length;
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer before the body; got: ${text}`)), 15_000);
    const check = () => {
      if (!complete()) return;
      clearTimeout(timer);
      resolve();
    };
    socket.on("data", check);
    socket.on("close", check);
  });
  socket.destroy();
  return { status: Number(text.split(" ")[1]), text };
}

describe("security: limits before work", () => {
  let t: ApiProcess;
  const FAILURES = 5;
  beforeAll(async () => {
    t = await startApiProcess({
      AUTH_FAILURES_PER_MINUTE: String(FAILURES),
      MAX_JSON_BODY_BYTES: "1MiB",
      ADMIN_KEY: "admin-key-0123456789",
    });
  });
  afterAll(async () => t?.stop());

  it("oversized bodies: refused with 413 problem+json, per route, the blob upload before reading it", async () => {
    // A JSON body over MAX_JSON_BODY_BYTES.
    const big = await t.acme("/v1/batches", json({ model: "m", items: [], pad: "x".repeat(2 * MiB) }));
    expect((await problemOf(big)).status).toBe(413);
    // The upload offer takes a small body only, far below MAX_JSON_BODY_BYTES.
    const offer = await t.acme("/v1/blobs/uploads", json({ sha256: "0".repeat(64), size: 1, pad: "x".repeat(4096) }));
    expect((await problemOf(offer)).status).toBe(413);
    // A blob body declared over the limit (5 GiB) is refused from its head alone.
    const blob = await headOnly(
      t.port,
      `PUT /v1/blobs HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEY_A}\r\ncontent-type: application/octet-stream\r\ncontent-length: ${6 * 1024 ** 3}\r\n\r\n`,
    );
    expect(blob.status).toBe(413);
    expect(blob.text).toContain("application/problem+json");
    expect(blob.text).toContain("POST /v1/blobs/uploads");
  });

  it("unauthenticated flood: failed keys are limited per address before the body is read (429), known keys go on", async () => {
    const statuses: number[] = [];
    // Bounded: the budget plus two.
    for (let i = 0; i < FAILURES + 2; i++) {
      const res = await headOnly(
        t.port,
        `POST /v1/batches HTTP/1.1\r\nhost: x\r\nauthorization: Bearer guess-${i}\r\ncontent-type: application/json\r\ncontent-length: ${16 * MiB}\r\n\r\n`,
      );
      expect(res.text).toContain("application/problem+json");
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array(FAILURES).fill(401), 429, 429]);
    const limited = await t.anon("/v1/models", { headers: { authorization: "Bearer another-guess" } });
    const problem = await problemOf(limited);
    expect(problem.status).toBe(429);
    expect(problem.detail).toContain(`failed to authenticate more than ${FAILURES} times`);
    expect(limited.headers.get("retry-after")).toMatch(/^\d+$/);
    // Missing keys count too; a valid key from the same address is not held back.
    expect((await t.anon("/v1/models")).status).toBe(429);
    expect((await t.acme("/v1/models")).status).toBe(200);
    // Failed admin keys draw on the same budget.
    expect((await problemOf(await t.anon("/admin/queues", { headers: { authorization: "Bearer nope" } }))).status).toBe(
      429,
    );
    expect((await t.anon("/admin/queues", { headers: { authorization: "Bearer admin-key-0123456789" } })).status).toBe(
      200,
    );
  });
});
