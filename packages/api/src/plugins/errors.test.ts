import { describe, expect, it } from "vitest";
import { fieldName } from "./errors.ts";

describe("fieldName", () => {
  it("turns a JSON pointer into a readable field path", () => {
    expect(fieldName("body", "/items/0/inputs/video")).toBe("body.items[0].inputs.video");
    expect(fieldName("querystring", "/cursor")).toBe("querystring.cursor");
    expect(fieldName("body", "/")).toBe("body");
  });
});
