import http from "node:http";
import { collectDefaultMetrics, Registry } from "prom-client";

/** One registry per service process, with Node's default metrics and a service label. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Serves GET /metrics for services without an HTTP server of their own (worker, packager).
 * A function gives the registry of the moment (a service rebuilt after a Redis stall has a new one).
 */
export async function serveMetrics(
  registry: Registry | (() => Registry),
  port: number,
  host: string,
): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    const current = typeof registry === "function" ? registry() : registry;
    res.writeHead(200, { "content-type": current.contentType }).end(await current.metrics());
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}
