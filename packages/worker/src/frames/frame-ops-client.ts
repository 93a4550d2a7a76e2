import type { AlignedFrames, AlignedOps } from "../adapters/inswapper/warp-ops.ts";
import { fromThread } from "../errors.ts";
import { ThreadClient } from "../thread-rpc.ts";
import type { BoxedFrames, FaceOps } from "./frame-ops.ts";

export type FrameOpsRequest =
  | { type: "crop"; boxed: BoxedFrames; face: Float32Array }
  | { type: "paste"; boxed: BoxedFrames; prediction: Float32Array }
  | { type: "alignedCrop"; aligned: AlignedFrames; faces: Float32Array }
  | { type: "alignedPaste"; aligned: AlignedFrames; faces: Float32Array; mask: Float32Array };

const THREAD_FILE = new URL("./frame-ops-thread.ts", import.meta.url);

/**
 * Crop and paste on a thread of their own (frame-ops-thread.ts), one per worker process. The
 * frames and the batch's face tensor live in SharedArrayBuffers, so a request carries views,
 * not copies, and the thread writes the crops and pastes in place.
 */
export class FrameOpsThread implements FaceOps, AlignedOps {
  private readonly thread = new ThreadClient<FrameOpsRequest>(THREAD_FILE, "frame-ops thread", fromThread);

  /** Starts the thread now: its graphs load before the first job needs them. */
  constructor() {
    this.thread.start();
  }

  cropAll(boxed: BoxedFrames, face: Float32Array): Promise<void> {
    return this.request({ type: "crop", boxed, face }, [face]);
  }

  pasteAll(boxed: BoxedFrames, prediction: Float32Array): Promise<void> {
    return this.request({ type: "paste", boxed, prediction }, []);
  }

  /** Face swap's aligned crop (adapters/inswapper/warp-ops.ts). */
  cropAligned(aligned: AlignedFrames, faces: Float32Array): Promise<void> {
    return this.request({ type: "alignedCrop", aligned, faces }, [faces]);
  }

  /** Face swap's feathered paste (adapters/inswapper/warp-ops.ts). */
  pasteAligned(aligned: AlignedFrames, faces: Float32Array, mask: Float32Array): Promise<void> {
    return this.request({ type: "alignedPaste", aligned, faces, mask }, []);
  }

  /** Answers what is in flight (ending the thread inside a native call would abort the process), then ends it. */
  close(): Promise<void> {
    return this.thread.close();
  }

  private request(msg: FrameOpsRequest, written: Float32Array[]): Promise<void> {
    // What the thread writes must be shared memory, or the writes would land in a copy.
    const frames = "boxed" in msg ? msg.boxed.frames : msg.aligned.frames;
    if ([...written, ...frames].some((a) => !(a.buffer instanceof SharedArrayBuffer)))
      return Promise.reject(new Error("frame ops need frames and faces in shared memory (SharedArrayBuffer)"));
    return this.thread.request(msg);
  }
}
