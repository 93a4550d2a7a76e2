import http from "node:http";
import type { AddressInfo } from "node:net";
import { Transform } from "node:stream";

/**
 * An HTTP proxy on loopback in front of an S3 server that flips one byte in the middle of
 * chosen download bodies (Content-Length kept): a part corrupted in transit; or cuts the
 * connection halfway through one. Requests and other answers pass unchanged; presigned
 * links signed for its address work through it.
 */
export interface CorruptingProxy {
  url: string;
  /** Where it forwards to; set before the first request. */
  target?: URL;
  /**
   * "first": only the first GET of each matching path is corrupted; "always": every one;
   * "cut-first": the first is cut off halfway (the connection closed).
   */
  mode: "first" | "always" | "cut-first";
  /** The Range header of each matching GET, in order ("" when none). */
  ranges: string[];
  /** GETs per matching path (without the query), and how many of them were corrupted. */
  gets: Map<string, number>;
  corrupted: Map<string, number>;
  close(): Promise<void>;
}

export async function startCorruptingProxy(match: RegExp): Promise<CorruptingProxy> {
  const proxy: CorruptingProxy = {
    url: "",
    mode: "first",
    ranges: [],
    gets: new Map(),
    corrupted: new Map(),
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    const target = proxy.target;
    if (!target) return res.writeHead(502).end();
    const pathname = new URL(req.url ?? "/", "http://x").pathname;
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        const size = Number(answer.headers["content-length"] ?? 0);
        const gets = proxy.gets.get(pathname) ?? 0;
        const corrupt =
          req.method === "GET" &&
          answer.statusCode === 200 &&
          match.test(pathname) &&
          size > 0 &&
          (proxy.mode === "always" || gets === 1);
        if (!corrupt) return answer.pipe(res);
        proxy.corrupted.set(pathname, (proxy.corrupted.get(pathname) ?? 0) + 1);
        if (proxy.mode === "cut-first") return answer.pipe(cutAt(Math.floor(size / 2), () => res.destroy())).pipe(res);
        answer.pipe(flipByteAt(Math.floor(size / 2))).pipe(res);
      },
    );
    if (req.method === "GET" && match.test(pathname)) {
      proxy.gets.set(pathname, (proxy.gets.get(pathname) ?? 0) + 1);
      proxy.ranges.push(req.headers.range ?? "");
    }
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}

/** Passes a stream through with the byte at `offset` inverted. */
function flipByteAt(offset: number): Transform {
  let at = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (offset >= at && offset < at + chunk.length) {
        const copy = Buffer.from(chunk);
        copy[offset - at] = (copy[offset - at] as number) ^ 0xff;
        chunk = copy;
      }
      at += chunk.length;
      done(null, chunk);
    },
  });
}

/** Passes the first `length` bytes of a stream, then calls cut (which ends the connection). */
function cutAt(length: number, cut: () => void): Transform {
  let at = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (at >= length) return done();
      const keep = chunk.subarray(0, length - at);
      at += keep.length;
      done(null, keep);
      if (at >= length) setTimeout(cut, 50);
    },
  });
}
