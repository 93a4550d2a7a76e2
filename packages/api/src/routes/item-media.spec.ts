import { objectKeys, putStream, type ResultRecord, sha256Hex } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchService } from "../services/batch.service.ts";
import { serviceDeps } from "../services/service-fixture.ts";
import { WebhookService } from "../services/webhook.service.ts";
import { ItemMedia } from "./item-media.ts";

describe(ItemMedia.name, () => {
  let env: Awaited<ReturnType<typeof serviceDeps>>;
  let batches: BatchService;
  let sut: ItemMedia;

  beforeAll(async () => {
    env = await serviceDeps();
    batches = new BatchService(env.deps, new WebhookService(env.deps));
    sut = new ItemMedia(env.deps);
    await env.deps.ledger.assets.setModel("acme", { tag: "m", sha256: "e".repeat(64), adapter: "wav2lip" });
  });
  afterAll(async () => env?.stop());

  /** A finished item whose output object holds `bytes`, stored as `storedType`. */
  async function finished(name: string, bytes: Buffer, storedType: string, output?: ResultRecord["output"]) {
    const inputs = { video: await env.blob("acme"), audio: await env.blob("acme") };
    const { answer } = await batches.create("acme", { model: "m", items: [{ name, inputs }] });
    const jobKey = answer.items[0]?.jobKey as string;
    const key = objectKeys.attemptOutput(jobKey, "a1", output?.file ?? "output.mp4");
    const bucket = env.deps.config.S3_BUCKET;
    await putStream(env.deps.s3, { bucket, key, body: bytes, contentType: storedType });
    await env.deps.ledger.jobs.start(jobKey);
    await env.deps.ledger.jobs.recordResult({
      jobKey,
      key,
      sha256: sha256Hex(bytes),
      size: bytes.length,
      model: "e".repeat(64),
      adapter: "wav2lip",
      inputs,
      params: {},
      completedAt: new Date().toISOString(),
      ...(output ? { output } : {}),
    });
    const [item] = (await batches.itemsPage(answer.id, { cursor: 0, limit: 1 })).items;
    if (!item?.output) throw new Error("the item has no output");
    return sut.links({ ...item, output: item.output });
  }

  it("links an audio output with its kind and content type", async () => {
    const wav = Buffer.from("RIFF....WAVEfmt ");
    const links = await finished("speech", wav, "application/octet-stream", {
      kind: "audio",
      file: "output.wav",
      extension: ".wav",
      contentType: "audio/wav",
    });
    expect(links).toMatchObject({ kind: "audio", contentType: "audio/wav", extension: ".wav", poster: null });
    expect(links.video).toBe(links.url);
    const response = await fetch(links.url);
    expect(response.headers.get("content-type")).toBe("audio/wav");
    expect(Buffer.from(await response.arrayBuffer()).equals(wav)).toBe(true);
  });

  it("serves a result recorded before outputs had kinds as an mp4 video", async () => {
    const links = await finished("old", Buffer.from("old mp4 bytes"), "video/mp4");
    expect(links).toMatchObject({ kind: "video", contentType: "video/mp4", extension: ".mp4" });
    expect((await fetch(links.url)).headers.get("content-type")).toBe("video/mp4");
  });
});
