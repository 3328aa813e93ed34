// The browser build's stand-in for src/verify/accelerate.ts: no process-wide patches of
// sigstore internals outside the Node host (they are Node's speed-ups, not rules).
export function installAccelerations(_trustedRoot: unknown): boolean {
  return false;
}
