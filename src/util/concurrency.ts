// Bounded concurrency: at most `limit` calls of `fn` in flight, results in input order.
import pLimit from 'p-limit';

export function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  return pLimit(Math.max(1, Math.floor(limit) || 1)).map(items, fn);
}
