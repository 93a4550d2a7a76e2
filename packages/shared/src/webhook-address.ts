import { BlockList, isIP } from "node:net";

/**
 * Where webhooks may not go (docs/architecture.md#webhooks): loopback, private, shared,
 * link-local (cloud metadata at 169.254.169.254 and fd00:ec2::254 included), multicast,
 * reserved and documentation ranges, and IPv6 forms that embed an IPv4 address
 * (IPv4-mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16), which are checked as
 * the IPv4 address they carry.
 */
const forbidden = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  forbidden.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::", 128],
  ["::1", 128],
  ["100::", 64],
  ["2001::", 23],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
] as const)
  forbidden.addSubnet(net, bits, "ipv6");

const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

export interface AddressPolicy {
  /** TEST ONLY (WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS): 127.0.0.0/8 and ::1 are let through. */
  allowLoopback?: boolean;
}

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any. */
export function embeddedIPv4(ip: string): string | undefined {
  const groups = expandIPv6(ip);
  if (!groups) return undefined;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zero = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible, deprecated), 64:ff9b::a.b.c.d (NAT64).
  if (zero(0, 5) && groups[5] === 0xffff) return v4(groups[6] as number, groups[7] as number);
  if (zero(0, 6) && (groups[6] !== 0 || (groups[7] as number) > 1)) return v4(groups[6] as number, groups[7] as number);
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zero(2, 6)) return v4(groups[6] as number, groups[7] as number);
  if (groups[0] === 0x2002) return v4(groups[1] as number, groups[2] as number);
  return undefined;
}

function expandIPv6(ip: string): number[] | undefined {
  if (isIP(ip) !== 6) return undefined;
  let s = ip.split("%")[0] as string;
  // A dotted IPv4 tail becomes two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted?.[1]) {
    const [a, b, c, d] = dotted[1].split(".").map(Number) as [number, number, number, number];
    s = `${s.slice(0, -dotted[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : new Array(8 - h.length - t.length).fill("0");
  const groups = [...h, ...fill, ...t].map((g) => Number.parseInt(g, 16));
  return groups.length === 8 ? groups : undefined;
}

/** Why a webhook may not connect to this IP address, or undefined when it may. */
export function forbiddenAddressReason(ip: string, policy: AddressPolicy = {}): string | undefined {
  const family = isIP(ip);
  if (family === 0) return `"${ip}" is not an IP address`;
  const inner = family === 6 ? embeddedIPv4(ip) : undefined;
  if (inner !== undefined) {
    const why = forbiddenAddressReason(inner, policy);
    return why ? `${ip} carries ${inner}: ${why}` : undefined;
  }
  const type = family === 4 ? "ipv4" : "ipv6";
  if (policy.allowLoopback && loopback.check(ip, type)) return undefined;
  if (forbidden.check(ip, type))
    return `${ip} is a loopback, private, link-local, metadata or reserved address; webhooks go to public addresses only`;
  return undefined;
}

export interface UrlPolicy extends AddressPolicy {
  /** WEBHOOK_ALLOW_HTTP: plain http (development). */
  allowHttp?: boolean;
}

/**
 * Checks what can be checked without DNS: scheme, no credentials, and an IP literal host
 * (connections to IP literals skip the resolver, so they are checked here). Returns the
 * URL, or throws an Error with the reason.
 */
export function checkWebhookUrl(raw: string, policy: UrlPolicy = {}): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`"${raw}" is not a URL`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && policy.allowHttp))
    throw new Error(
      `webhook URLs must use https${policy.allowHttp ? " or http" : " (http only with WEBHOOK_ALLOW_HTTP=true)"}`,
    );
  if (url.username || url.password) throw new Error("webhook URLs may not carry credentials");
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) {
    const why = forbiddenAddressReason(host, policy);
    if (why) throw new Error(why);
  } else if (host === "localhost" || host.endsWith(".localhost")) {
    if (!policy.allowLoopback) throw new Error(`${host} is a loopback name; webhooks go to public addresses only`);
  }
  return url;
}

/** A resolver: every address a name resolves to (dns.lookup with all: true by default). */
export type Resolve = (hostname: string) => Promise<{ address: string; family: number }[]>;

/**
 * Resolves a webhook's host and checks every address it resolves to: one forbidden address
 * refuses the name (a name that resolves to a public and a private address is refused).
 */
export async function resolveAllowed(
  hostname: string,
  resolve: Resolve,
  policy: AddressPolicy = {},
): Promise<{ address: string; family: number }[]> {
  const host = hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) {
    const why = forbiddenAddressReason(host, policy);
    if (why) throw new Error(why);
    return [{ address: host, family: isIP(host) }];
  }
  const addresses = await resolve(host);
  if (addresses.length === 0) throw new Error(`${host} resolves to no address`);
  for (const a of addresses) {
    const why = forbiddenAddressReason(a.address, policy);
    if (why) throw new Error(`${host} resolves to ${a.address}: ${why}`);
  }
  return addresses;
}
