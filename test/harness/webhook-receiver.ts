import dns from "node:dns";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** What the receiver answers on a path: a status, or "hang" (read the request, never answer). */
export type Behaviour = (n: number) => number | "hang";

/**
 * A real HTTP server on 127.0.0.1 that records every request. Behaviours are chosen by
 * path; unknown paths answer 200.
 */
export async function startReceiver(behaviours: Record<string, Behaviour> = {}) {
  const received: Received[] = [];
  const counts = new Map<string, number>();
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const n = (counts.get(path) ?? 0) + 1;
      counts.set(path, n);
      const answer = behaviours[path]?.(n) ?? 200;
      if (answer === "hang") hanging.add(res);
      else res.writeHead(answer, { "content-type": "text/plain" }).end(answer < 300 ? "ok" : "no");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path: string, host = "127.0.0.1") => `http://${host}:${port}${path}`,
    port,
    received,
    on: (path: string) => received.filter((r) => r.path === path),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const isLoopback = (ip: string) =>
  net.isIP(ip) === 4 ? ip.startsWith("127.") : ip === "::1" || ip.startsWith("::ffff:127.");

type LookupCallback = (err: Error | null, address?: unknown, family?: number) => void;

/**
 * Test guard: fails, instead of connecting, on any socket connect in this process whose
 * address is not loopback: an IP-literal host is checked before the connect, and the
 * addresses a socket's `lookup` yields are checked before net connects to them. Returns
 * the violations seen and a restore function.
 */
export function guardLoopbackOnly() {
  const violations: string[] = [];
  const original = net.Socket.prototype.connect;
  // biome-ignore lint/suspicious/noExplicitAny: net's overloaded connect arguments
  net.Socket.prototype.connect = function guarded(this: net.Socket, ...args: any[]) {
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    const opts = (typeof first === "object" && first !== null ? first : { port: first, host: args[1] }) as {
      host?: string;
      path?: string;
      lookup?: (host: string, o: object, cb: LookupCallback) => void;
    };
    if (!opts.path) {
      const host = (opts.host ?? "localhost").replace(/^\[|\]$/g, "");
      if (net.isIP(host) && !isLoopback(host)) {
        violations.push(host);
        throw new Error(`test guard: connect to non-loopback address ${host} refused`);
      }
      if (!net.isIP(host)) {
        const lookup = opts.lookup ?? (dns.lookup as unknown as NonNullable<typeof opts.lookup>);
        opts.lookup = (h, o, cb) =>
          lookup(h, o, (err, address, family) => {
            if (err) return cb(err, address, family);
            const list = Array.isArray(address)
              ? (address as { address: string }[]).map((a) => a.address)
              : [String(address)];
            const bad = list.filter((a) => !isLoopback(a));
            if (bad.length > 0) {
              violations.push(...bad);
              return cb(new Error(`test guard: ${h} resolved to non-loopback ${bad.join(", ")}; not connecting`));
            }
            cb(null, address, family);
          });
      }
    }
    return original.apply(this, args as never);
  } as typeof original;
  return {
    violations,
    restore() {
      net.Socket.prototype.connect = original;
    },
  };
}
