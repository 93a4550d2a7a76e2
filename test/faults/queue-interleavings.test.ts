import { describeInterleavings } from "./queue-interleavings.ts";

// A few schedules in `pnpm test` (~25 s); queue-interleavings.slow.ts runs more.
describeInterleavings(Number(process.env.INTERLEAVING_SCHEDULES ?? 8));
