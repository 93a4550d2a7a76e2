import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { freePort, type Managed, spawnManaged, waitForPort } from "./process.ts";

export interface EmbeddedS3 extends Managed {
  port: number;
  endpoint: string;
  /** The S3_* environment that points mediaq at this server. */
  env: Record<string, string>;
}

/** Any origin may GET, HEAD and PUT with presigned URLs (the signature is the permission). */
const BROWSER_CORS = `<CORSConfiguration>
  <CORSRule>
    <AllowedOrigin>*</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>HEAD</AllowedMethod>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader>
    <MaxAgeSeconds>3000</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>
`;

/**
 * A local S3-compatible server (s3rver, files under dataDir) for `mediaq dev` and the
 * tests. It speaks the S3 REST API over HTTP, signatures and multipart included; it lacks
 * ListMultipartUploads, AbortMultipartUpload and lifecycle rules (use MinIO for those).
 */
export async function startS3(opts: { dataDir: string; port?: number; bucket: string }): Promise<EmbeddedS3> {
  const port = opts.port ?? (await freePort());
  fs.mkdirSync(opts.dataDir, { recursive: true });
  // The web page PUTs uploads and plays outputs cross-origin through presigned URLs.
  const cors = path.join(opts.dataDir, "cors.xml");
  fs.writeFileSync(cors, BROWSER_CORS);
  const bin = path.join(
    path.dirname(createRequire(import.meta.url).resolve("s3rver/package.json")),
    "bin",
    "s3rver.js",
  );
  const managed = spawnManaged(process.execPath, [
    bin,
    "--directory",
    path.resolve(opts.dataDir),
    "--address",
    "127.0.0.1",
    "--port",
    String(port),
    "--silent",
    "--no-vhost-buckets",
    "--configure-bucket",
    opts.bucket,
    cors,
  ]);
  await waitForPort(port, managed.child, "s3rver");
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    ...managed,
    port,
    endpoint,
    env: {
      S3_ENDPOINT: endpoint,
      S3_BUCKET: opts.bucket,
      S3_REGION: "us-east-1",
      S3_FORCE_PATH_STYLE: "true",
      S3_ACCESS_KEY_ID: "S3RVER",
      S3_SECRET_ACCESS_KEY: "S3RVER",
    },
  };
}
