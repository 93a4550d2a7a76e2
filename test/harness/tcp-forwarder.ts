import net from "node:net";

/**
 * A TCP forwarder on a loopback address of its own, in front of another server: what a
 * published port or a public host is to a server inside a private network. Counts the
 * bytes it carried each way, so a test can tell what went through it.
 */
export interface TcpForwarder {
  /** host:port it listens on. */
  address: string;
  /** Bytes carried from clients to the server. */
  bytesIn: number;
  /** Bytes carried from the server back to clients. */
  bytesOut: number;
  /** Where it forwards to; set before the first connection. */
  target?: { host: string; port: number };
  close(): Promise<void>;
}

export async function startTcpForwarder(host = "127.0.0.2"): Promise<TcpForwarder> {
  const sockets = new Set<net.Socket>();
  const forwarder: TcpForwarder = { address: "", bytesIn: 0, bytesOut: 0, close: async () => {} };
  const server = net.createServer((client) => {
    const target = forwarder.target;
    if (!target) return client.destroy();
    const upstream = net.connect(target.port, target.host);
    client.on("data", (chunk: Buffer) => {
      forwarder.bytesIn += chunk.length;
    });
    upstream.on("data", (chunk: Buffer) => {
      forwarder.bytesOut += chunk.length;
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, host, resolve));
  forwarder.address = `${host}:${(server.address() as net.AddressInfo).port}`;
  forwarder.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return forwarder;
}
