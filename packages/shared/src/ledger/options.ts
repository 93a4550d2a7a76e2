/** How long the ledger keeps what it keeps (docs/architecture.md#retention). */
export interface LedgerOptions {
  /** A finished batch (items, counters, events, job states) expires this long after it finished. */
  batchRetentionSeconds: number;
  /** An Idempotency-Key is remembered this long after its batch was created. */
  idempotencyTtlSeconds: number;
  /** Events kept per batch stream (approximate, XADD MAXLEN ~). */
  eventsMaxLen: number;
}

export const DEFAULT_LEDGER_OPTIONS: LedgerOptions = {
  batchRetentionSeconds: 30 * 24 * 3600,
  idempotencyTtlSeconds: 24 * 3600,
  eventsMaxLen: 10_000,
};

/** The options as the config names them (BATCH_RETENTION_DAYS, IDEMPOTENCY_TTL_SECONDS). */
export function ledgerOptionsFrom(config: {
  BATCH_RETENTION_DAYS?: number;
  IDEMPOTENCY_TTL_SECONDS?: number;
}): LedgerOptions {
  return {
    ...DEFAULT_LEDGER_OPTIONS,
    ...(config.BATCH_RETENTION_DAYS !== undefined
      ? { batchRetentionSeconds: Math.round(config.BATCH_RETENTION_DAYS * 24 * 3600) }
      : {}),
    ...(config.IDEMPOTENCY_TTL_SECONDS !== undefined ? { idempotencyTtlSeconds: config.IDEMPOTENCY_TTL_SECONDS } : {}),
  };
}
