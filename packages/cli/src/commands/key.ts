import { randomBytes } from "node:crypto";
import { apiKeyEntry } from "@mediaq/shared";
import type { Command } from "commander";

/**
 * `mediaq key <tenant>`: makes a new API key and prints it once, with the API_KEYS entry
 * that stores only its SHA-256, so the server's configuration never holds the key itself.
 */
export function registerKeyCommand(program: Command): void {
  program
    .command("key")
    .description("make a new API key for a tenant; prints the key once and its API_KEYS entry (a digest)")
    .argument("<tenant>", "tenant name (letters, digits, ._-)")
    .option("--json", "print {tenant, key, entry} as JSON")
    .action((tenant: string, o: { json?: boolean }) => {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(tenant))
        program.error(`mediaq key: "${tenant}" is not a tenant name (letters, digits, ._- up to 64)`, { exitCode: 2 });
      const key = randomBytes(32).toString("base64url");
      const entry = apiKeyEntry(tenant, key);
      if (o.json) {
        console.log(JSON.stringify({ tenant, key, entry }));
        return;
      }
      console.log(`key (give it to ${tenant}; it is not stored anywhere): ${key}`);
      console.log(`API_KEYS entry (add to API_KEYS or API_KEYS_FILE):   ${entry}`);
    });
}
