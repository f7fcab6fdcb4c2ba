/**
 * Waits for every promise, then rejects with the first failure if any. Unlike Promise.all it
 * never returns while some work still runs, so whoever waits can rely on nothing being left
 * touching what the work touched (a writer's buffer, a DuckDB connection).
 */
export async function allOrFirstError(work: ReadonlyArray<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(work);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
