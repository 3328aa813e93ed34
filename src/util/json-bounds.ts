// Bounds on the shape of parsed JSON from outside (sidecar bundles). A Sigstore bundle
// (protobuf-specs Bundle v0.1–v0.3) is at most 6 levels deep and a few dozen values; what
// goes far beyond that is not a bundle, and some consumers recurse over it: structured
// cloning to a worker thread (`postMessage`) overflows the stack at a few thousand levels
// while JSON.parse does not. Checking the shape once, iteratively, before anything
// recursive sees the value makes every path (in-process, worker) give the same verdict.

/** Deepest nesting accepted in one bundle (real bundles: 6). */
export const MAX_BUNDLE_DEPTH = 32;
/** Most JSON values (objects, arrays, scalars) accepted in one bundle (real bundles: < 100). */
const MAX_BUNDLE_VALUES = 100_000;

type ShapeProblem = { kind: 'depth'; limit: number } | { kind: 'size'; limit: number };

/**
 * The first bound `value` breaks, or undefined. Iterative (an explicit stack), so it is safe
 * on any depth; the value budget also ends the walk on a cyclic object from an API caller.
 */
export function jsonShapeProblem(value: unknown, maxDepth = MAX_BUNDLE_DEPTH, maxValues = MAX_BUNDLE_VALUES): ShapeProblem | undefined {
  const stack: [unknown, number][] = [[value, 0]];
  let seen = 0;
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (++seen > maxValues) return { kind: 'size', limit: maxValues };
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= maxDepth) return { kind: 'depth', limit: maxDepth };
    if (Array.isArray(v)) for (const x of v) stack.push([x, depth + 1]);
    else for (const k in v) if (Object.hasOwn(v, k)) stack.push([(v as Record<string, unknown>)[k], depth + 1]);
  }
  return undefined;
}
