// Memoisation over a Map or WeakMap: the value cached under a key, made on first use.

/** `map.get(key)`, or `make()` stored under `key` when there is none yet. */
export function getOrMake<K, V>(map: { get(key: K): V | undefined; set(key: K, value: V): unknown }, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}
