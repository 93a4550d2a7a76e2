import { describeInterleavings } from "./queue-interleavings.ts";

describeInterleavings(Number(process.env.INTERLEAVING_SCHEDULES ?? 60));
