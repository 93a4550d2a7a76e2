import { noFaceNote } from "@mediaq/shared";
import type { ApiClient } from "./api-client.ts";
import type { ListItemsResponse } from "./generated-client/types.gen.ts";

/** Succeeded items scanned for face notes (pages of 500). */
const MAX_SCANNED = 5000;

/** The succeeded items of a batch that had frames without a face, with their note. */
export async function noFaceItems(
  client: ApiClient,
  batchId: string,
): Promise<(Pick<ListItemsResponse["items"][number], "index" | "name"> & { note: string })[]> {
  const found = [];
  let cursor: string | undefined;
  let scanned = 0;
  do {
    const page = await client.listItems(batchId, { state: "succeeded", limit: 500, cursor });
    for (const item of page.items) {
      const note = noFaceNote(item.face);
      if (note) found.push({ index: item.index, name: item.name, note });
    }
    scanned += 500;
    cursor = page.nextCursor ?? undefined;
  } while (cursor && scanned < MAX_SCANNED);
  return found;
}

export function printNoFaceItems(items: Awaited<ReturnType<typeof noFaceItems>>): void {
  for (const it of items) console.log(`  #${it.index} ${it.name}: ${it.note}`);
}
