import { describe, expect, it } from "vitest";
import { checkWebhookUrl, embeddedIPv4, forbiddenAddressReason, resolveAllowed } from "./webhook-address.ts";

// Pure checks: nothing here opens a connection or asks DNS.
describe("forbiddenAddressReason", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.8.9.10", "loopback"],
    ["::1", "loopback v6"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.254", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "shared (CGNAT)"],
    ["169.254.169.254", "metadata"],
    ["169.254.1.1", "link-local"],
    ["0.0.0.0", "this network"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["fe80::1", "link-local v6"],
    ["fc00::1", "unique local"],
    ["fd00:ec2::254", "AWS metadata v6"],
    ["::ffff:127.0.0.1", "IPv4-mapped loopback"],
    ["::ffff:10.0.0.1", "IPv4-mapped private"],
    ["::ffff:a9fe:a9fe", "IPv4-mapped metadata, hex form"],
    ["::ffff:192.168.0.1", "IPv4-mapped private"],
    ["64:ff9b::a9fe:a9fe", "NAT64 of metadata"],
    ["2002:a00:1::", "6to4 of 10.0.0.1"],
    ["::", "unspecified"],
  ])("refuses %s (%s)", (ip) => {
    expect(forbiddenAddressReason(ip)).toMatch(/address/);
  });

  it.each(["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])("allows %s", (ip) => {
    expect(forbiddenAddressReason(ip)).toBeUndefined();
  });

  it("lets loopback through only with the test allowance, and nothing else with it", () => {
    expect(forbiddenAddressReason("127.0.0.1", { allowLoopback: true })).toBeUndefined();
    expect(forbiddenAddressReason("::1", { allowLoopback: true })).toBeUndefined();
    expect(forbiddenAddressReason("::ffff:127.0.0.1", { allowLoopback: true })).toBeUndefined();
    expect(forbiddenAddressReason("10.0.0.1", { allowLoopback: true })).toMatch(/private/);
    expect(forbiddenAddressReason("169.254.169.254", { allowLoopback: true })).toMatch(/metadata/);
  });

  it("reads the IPv4 address inside IPv6 forms", () => {
    expect(embeddedIPv4("::ffff:a9fe:a9fe")).toBe("169.254.169.254");
    expect(embeddedIPv4("::ffff:10.0.0.1")).toBe("10.0.0.1");
    expect(embeddedIPv4("2002:c0a8:101::1")).toBe("192.168.1.1");
    expect(embeddedIPv4("2606:4700::1111")).toBeUndefined();
  });
});

describe("checkWebhookUrl", () => {
  it("takes https, and http only when allowed", () => {
    expect(checkWebhookUrl("https://hooks.example.com/x").hostname).toBe("hooks.example.com");
    expect(() => checkWebhookUrl("http://hooks.example.com/x")).toThrow(/https/);
    expect(checkWebhookUrl("http://hooks.example.com/x", { allowHttp: true }).protocol).toBe("http:");
    expect(() => checkWebhookUrl("ftp://hooks.example.com/x", { allowHttp: true })).toThrow(/https/);
  });

  it("refuses IP literals in forbidden ranges, credentials and localhost", () => {
    expect(() => checkWebhookUrl("https://169.254.169.254/latest")).toThrow(/metadata/);
    expect(() => checkWebhookUrl("https://[::ffff:10.0.0.1]/x")).toThrow(/10\.0\.0\.1/);
    expect(() => checkWebhookUrl("https://[fe80::1]/x")).toThrow(/link-local/);
    expect(() => checkWebhookUrl("https://user:pw@hooks.example.com/")).toThrow(/credentials/);
    expect(() => checkWebhookUrl("https://localhost/")).toThrow(/loopback/);
    expect(() => checkWebhookUrl("https://0x7f000001/")).toThrow(/loopback/);
    expect(() => checkWebhookUrl("not a url")).toThrow(/not a URL/);
  });
});

describe("resolveAllowed", () => {
  const resolver = (map: Record<string, string[]>) => async (host: string) =>
    (map[host] ?? []).map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));

  it("refuses a name when any address it resolves to is forbidden", async () => {
    const resolve = resolver({ "mixed.test": ["93.184.215.14", "10.0.0.7"], "public.test": ["93.184.215.14"] });
    await expect(resolveAllowed("mixed.test", resolve)).rejects.toThrow(/mixed\.test resolves to 10\.0\.0\.7/);
    await expect(resolveAllowed("public.test", resolve)).resolves.toHaveLength(1);
    await expect(resolveAllowed("nothing.test", resolve)).rejects.toThrow(/no address/);
  });

  it("refuses names resolving to metadata and IPv6-mapped private addresses", async () => {
    const resolve = resolver({ "meta.test": ["169.254.169.254"], "mapped.test": ["::ffff:192.168.0.10"] });
    await expect(resolveAllowed("meta.test", resolve)).rejects.toThrow(/169\.254\.169\.254/);
    await expect(resolveAllowed("mapped.test", resolve)).rejects.toThrow(/192\.168\.0\.10/);
  });
});
