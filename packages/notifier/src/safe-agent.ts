import dns from "node:dns";
import type { LookupAddress, LookupOptions } from "node:dns";
import { type AddressPolicy, type Resolve, resolveAllowed } from "@mediaq/shared";
import { Agent } from "undici";

/** dns.lookup with every address: what the system resolver answers. */
export const systemResolve: Resolve = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net/tls.connect that checks every address a name resolves to at connect
 * time, so a name that resolved to a public address when it was registered and to a
 * private one now (DNS rebinding) is refused before any connection is made.
 */
export function checkedLookup(resolve: Resolve, policy: AddressPolicy) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback) => {
    resolveAllowed(hostname, resolve, policy).then(
      (addresses) => {
        const wanted = options.family === 4 || options.family === 6 ? options.family : 0;
        const usable = wanted ? addresses.filter((a) => a.family === wanted) : addresses;
        if (usable.length === 0)
          return callback(Object.assign(new Error(`${hostname}: no IPv${wanted} address`), { code: "ENOTFOUND" }), []);
        if (options.all) callback(null, usable);
        else callback(null, (usable[0] as LookupAddress).address, (usable[0] as LookupAddress).family);
      },
      (err: Error) => callback(Object.assign(err, { code: "EWEBHOOKADDRESS" }), []),
    );
  };
}

export interface SafeAgentOptions extends AddressPolicy {
  resolve: Resolve;
  timeoutMs: number;
  connections: number;
}

/**
 * The HTTP client of deliveries: addresses checked at connect time, connect/headers/body
 * timeouts, no keep-alive pooling across endpoints beyond `connections`, and (undici's
 * request never follows redirects) a 3xx is an answer like any other.
 */
export function createSafeAgent(o: SafeAgentOptions): Agent {
  return new Agent({
    connect: { lookup: checkedLookup(o.resolve, o), timeout: o.timeoutMs },
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
    connections: o.connections,
    keepAliveTimeout: 4000,
  });
}
