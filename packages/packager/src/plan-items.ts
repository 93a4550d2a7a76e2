import { type Ledger, outputInfoOf } from "@mediaq/shared";
import { UnrecoverableError } from "bullmq";
import type { PlanItem } from "./plan.ts";

const PAGE = 500;

/** The batch's items in order, with their state and, for succeeded ones, their result. */
export async function loadPlanItems(ledger: Ledger, batchId: string): Promise<PlanItem[]> {
  const batch = await ledger.batches.get(batchId);
  if (!batch) throw new UnrecoverableError(`batch ${batchId} no longer exists; nothing to package`);
  const total = await ledger.batches.total(batchId);
  const items: PlanItem[] = [];
  for (let start = 0; start < total; start += PAGE) {
    const [raw, views] = await Promise.all([
      ledger.batches.items(batchId, start, PAGE),
      ledger.batches.itemViews(batchId, start, PAGE),
    ]);
    const results = await ledger.jobs.getResults(raw.map((i) => i.jobKey));
    raw.forEach((item, i) => {
      const view = views[i];
      const result = results[i];
      items.push({
        index: start + i,
        name: item.name,
        jobKey: item.jobKey,
        state: result ? "succeeded" : (view?.state ?? "pending"),
        ...(view?.error && !result ? { error: view.error } : {}),
        model: result?.model ?? batch.model,
        params: result?.params ?? item.params,
        ...(result
          ? {
              output: {
                key: result.key,
                sha256: result.sha256,
                size: result.size,
                info: outputInfoOf(result),
                ...(result.timings ? { timings: result.timings } : {}),
              },
            }
          : {}),
      });
    });
  }
  return items;
}
