import fs from "node:fs";

/**
 * CPU seconds (user + system) of a process and its waited-for children (ffmpeg, say), from
 * /proc/<pid>/stat: the benches print them beside wall times, which move more with other load.
 */
export function cpuSeconds(pid: number | "self" = "self"): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  // After "pid (comm) ": utime, stime, cutime, cstime are fields 12..15 (0-based); stat(5) numbers them 14..17.
  const ticks = [11, 12, 13, 14].reduce((a, i) => a + Number(fields[i] ?? 0), 0);
  return ticks / 100; // USER_HZ
}
