import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { sha256Hex } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlobService } from "./blob.service.ts";
import { ModelService } from "./model.service.ts";
import { serviceDeps } from "./service-fixture.ts";

describe(ModelService.name, () => {
  let env: Awaited<ReturnType<typeof serviceDeps>>;
  let blobs: BlobService;
  let sut: ModelService;

  beforeAll(async () => {
    env = await serviceDeps();
    blobs = new BlobService(env.deps);
    sut = new ModelService(env.deps, blobs);
  });
  afterAll(async () => env?.stop());

  describe("register", () => {
    it("should store the model as the tenant's blob and point the tag at it, with the adapter's channel order", async () => {
      const bytes = randomBytes(512);
      const model = await sut.register("acme", { tag: "lips@prod", adapter: "wav2lip" }, Readable.from([bytes]));
      expect(model).toEqual({ tag: "lips@prod", sha256: sha256Hex(bytes), adapter: "wav2lip", channels: "bgr" });
      expect(await blobs.sizeOf("acme", sha256Hex(bytes))).toBe(512);
      expect(await sut.list("acme")).toEqual([model]);
    });

    it("should move a tag to new bytes and keep each tenant's tags apart", async () => {
      const next = randomBytes(256);
      const moved = await sut.register(
        "acme",
        { tag: "lips@prod", adapter: "wav2lip", channels: "rgb" },
        Readable.from([next]),
      );
      expect(moved).toMatchObject({ sha256: sha256Hex(next), channels: "rgb" });
      expect(await sut.list("acme")).toEqual([moved]);
      expect(await sut.list("globex")).toEqual([]);
    });
  });
});
