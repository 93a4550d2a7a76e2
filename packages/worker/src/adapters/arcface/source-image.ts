import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import { promisify } from "node:util";
import { BadInputError } from "../../errors.ts";
import { yuvLayout } from "../../media/yuv.ts";

const run = promisify(execFile);

/** A still image decoded twice: rgb24 for the face detector, yuv420p for the aligned crop. */
export interface SourceImage {
  width: number;
  height: number;
  rgb: Uint8Array;
  yuv: Uint8Array;
}

/** ffprobe's codec names of the source formats a face-swap item takes. */
const IMAGE_CODECS: Record<string, string> = { png: "PNG", mjpeg: "JPEG" };

/**
 * Reads the source face image: a PNG or JPEG (anything else fails the item, naming what it
 * is), no larger than `maxPixels`, decoded by ffmpeg (BT.601, limited-range yuv like the frame
 * path's frames).
 */
export async function readSourceImage(file: string, label: string, maxPixels: number): Promise<SourceImage> {
  if ((await fs.stat(file)).size === 0) throw new BadInputError(`${label} is empty (0 bytes)`);
  let stream: { codec_name?: string; codec_type?: string; width?: number; height?: number } | undefined;
  let format = "";
  try {
    const { stdout } = await run("ffprobe", ["-v", "error", "-show_streams", "-show_format", "-of", "json", file]);
    const probed = JSON.parse(stdout) as { streams?: (typeof stream)[]; format?: { format_name?: string } };
    stream = probed.streams?.find((s) => s?.codec_type === "video");
    format = probed.format?.format_name ?? "";
  } catch {
    throw new BadInputError(`${label} is not a PNG or JPEG image (ffprobe cannot read it)`);
  }
  const codec = stream?.codec_name ?? "";
  // A one-frame video of mjpeg/png is still not a picture file: the container says which it is.
  if (!IMAGE_CODECS[codec] || !/image2|png_pipe|jpeg_pipe/.test(format))
    throw new BadInputError(
      `${label} is not a PNG or JPEG image (it is ${stream ? `${codec || "unknown"} in ${format || "an unknown container"}` : "not a picture"})`,
    );
  const width = Number(stream?.width);
  const height = Number(stream?.height);
  if (!(width > 0 && height > 0)) throw new BadInputError(`${label} has no picture size`);
  if (width * height > maxPixels)
    throw new BadInputError(
      `${label} is ${width}x${height} = ${width * height} pixels, more than MAX_FRAME_PIXELS=${maxPixels}`,
    );
  const decode = async (pixFmt: string, bytes: number) => {
    const { stdout } = await run(
      "ffmpeg",
      ["-v", "error", "-i", file, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", pixFmt, "-"],
      { encoding: "buffer", maxBuffer: bytes + 1024 },
    );
    if (stdout.length !== bytes)
      throw new BadInputError(`${label} could not be decoded (${stdout.length} of ${bytes} bytes)`);
    return new Uint8Array(stdout.buffer, stdout.byteOffset, stdout.length);
  };
  const [rgb, yuv] = await Promise.all([
    decode("rgb24", width * height * 3),
    decode("yuv420p", yuvLayout(width, height).frameBytes),
  ]);
  return { width, height, rgb, yuv };
}
