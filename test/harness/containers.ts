import fs from "node:fs";
import os from "node:os";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { createS3 } from "@mediaq/shared";

/**
 * Redis and MinIO in containers (testcontainers), used by startInfra when a container
 * engine answers. MEDIAQ_TEST_CONTAINERS=0 turns them off; =1 insists on them.
 */
export async function containerEngineAnswers(): Promise<boolean> {
  const wanted = process.env.MEDIAQ_TEST_CONTAINERS;
  if (wanted === "0") return false;
  // Asking testcontainers takes seconds when there is no engine; a socket or DOCKER_HOST
  // is the cheap sign that one may answer.
  const socket = ["/var/run/docker.sock", `${os.homedir()}/.docker/run/docker.sock`].some((p) => fs.existsSync(p));
  if (wanted !== "1" && !socket && !process.env.DOCKER_HOST) return false;
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    await getContainerRuntimeClient();
    return true;
  } catch (err) {
    if (wanted === "1")
      throw new Error(`MEDIAQ_TEST_CONTAINERS=1 but no container engine answered: ${(err as Error).message}`);
    return false;
  }
}

export interface ContainerInfra {
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startContainers(bucket: string): Promise<ContainerInfra> {
  // Loaded only when used: testcontainers replaces the global fetch dispatcher on import.
  const [{ MinioContainer }, { RedisContainer }] = await Promise.all([
    import("@testcontainers/minio"),
    import("@testcontainers/redis"),
  ]);
  const [redis, minio] = await Promise.all([
    // The same durability settings as the embedded and documented Redis.
    new RedisContainer("redis:7-alpine")
      .withCommand([
        "redis-server",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--maxmemory-policy",
        "noeviction",
      ])
      .start(),
    new MinioContainer("minio/minio:RELEASE.2025-04-22T22-12-26Z").start(),
  ]);
  const env = {
    REDIS_URL: redis.getConnectionUrl(),
    S3_ENDPOINT: minio.getConnectionUrl(),
    S3_BUCKET: bucket,
    S3_REGION: "us-east-1",
    S3_FORCE_PATH_STYLE: "true",
    S3_ACCESS_KEY_ID: minio.getUsername(),
    S3_SECRET_ACCESS_KEY: minio.getPassword(),
  };
  const s3 = createS3({ ...env, S3_FORCE_PATH_STYLE: true, S3_CHECKSUMS: "WHEN_REQUIRED" });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  return { env, stop: async () => void (await Promise.all([redis.stop(), minio.stop()])) };
}
