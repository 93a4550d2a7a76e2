import fs from "node:fs";
import { parseEnv } from "node:util";

/**
 * The environment a running `mediaq dev` stack gives other commands, as `export KEY='value'`
 * lines: `mediaq --env <file> <command>` loads it, and a shell can source it.
 */
export function formatEnvFile(env: Record<string, string>, comment: string[]): string {
  const lines = Object.entries(env).map(([key, value]) => {
    if (value.includes("'")) throw new Error(`${key} contains a single quote; it cannot be written to an env file`);
    return `export ${key}='${value}'`;
  });
  return `${[...comment.map((c) => `# ${c}`), ...lines].join("\n")}\n`;
}

/**
 * Sets the variables of a file (`KEY=value` or `export KEY=value` lines, as Node's parseEnv
 * reads them) in process.env. They override what the shell set: the file was asked for.
 */
export function loadEnvFile(file: string): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`--env ${file}: ${(err as Error).message}`);
  }
  const env = parseEnv(text) as Record<string, string>;
  Object.assign(process.env, env);
  return env;
}
