import { describeInterleavings } from "./queue-interleavings.test.ts";

// More schedules of the same test (INTERLEAVING_SCHEDULES still overrides the count).
describeInterleavings(Number(process.env.INTERLEAVING_SLOW_SCHEDULES ?? 60));
