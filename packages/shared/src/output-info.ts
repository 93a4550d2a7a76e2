import { z } from "zod";
import { OUTPUT_FILE } from "./jobs.ts";

/**
 * What an item's output is: its kind, file name, extension and MIME type, set by the worker's
 * adapter and recorded with the result, so the packager, the manifest and the item's media
 * link need no adapter knowledge (docs/architecture.md#adapters).
 */
export const OUTPUT_KINDS = ["video", "audio", "image"] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

export const outputInfoSchema = z.object({
  kind: z.enum(OUTPUT_KINDS),
  /** The output's file name in its attempt folder (`output.mp4`, `output.wav`). */
  file: z.string().min(1),
  /** With its dot: `.mp4`. */
  extension: z.string().regex(/^\.[a-z0-9]+$/),
  contentType: z.string().min(1),
});
export type OutputInfo = z.infer<typeof outputInfoSchema>;

/** Results recorded before outputs carried their kind were all lip-sync videos. */
export const DEFAULT_OUTPUT: OutputInfo = {
  kind: "video",
  file: OUTPUT_FILE,
  extension: ".mp4",
  contentType: "video/mp4",
};

/** A result's output info; DEFAULT_OUTPUT for results recorded without it. */
export const outputInfoOf = (result: { output?: OutputInfo } | undefined): OutputInfo =>
  result?.output ?? DEFAULT_OUTPUT;
