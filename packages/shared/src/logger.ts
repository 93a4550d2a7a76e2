import { pino, type Logger } from "pino";
import type { Config } from "./config.ts";

export type { Logger };

/** JSON logs; pretty lines when LOG_PRETTY (mediaq dev sets it). */
export function createLogger(service: string, config: Pick<Config, "LOG_LEVEL" | "LOG_PRETTY">): Logger {
  return pino({
    name: service,
    level: config.LOG_LEVEL,
    transport: config.LOG_PRETTY
      ? { target: "pino-pretty", options: { colorize: true, ignore: "pid,hostname", translateTime: "HH:MM:ss" } }
      : undefined,
  });
}
