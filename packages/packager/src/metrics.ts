import { createMetricsRegistry } from "@mediaq/shared";
import { Counter, type Registry } from "prom-client";

export interface PackagerMetrics {
  registry: Registry;
  packageBytes: Counter;
  parts: Counter<"outcome">;
}

export function createPackagerMetrics(): PackagerMetrics {
  const registry = createMetricsRegistry("packager");
  return {
    registry,
    packageBytes: new Counter({
      name: "mediaq_package_bytes_total",
      help: "Bytes of ZIP parts written to S3",
      registers: [registry],
    }),
    parts: new Counter({
      name: "mediaq_package_parts_total",
      help: "ZIP part jobs, by outcome",
      labelNames: ["outcome"],
      registers: [registry],
    }),
  };
}
