// Shared copies of equal values (resources, scopes), counted by their users, so that a resource that 10,000
// spans name is held, and charged, once.

interface Entry<T> {
  value: T;
  hash: number;
  users: number;
  bytes: number;
}

/** Hands out one shared copy per distinct value, and forgets a value once nothing uses it. */
export class Interner<T> {
  #byHash = new Map<number, Entry<T>[]>();
  #byValue = new Map<T, Entry<T>>();
  #weigh: (value: T) => number;
  /** The bytes charged for the distinct values held. */
  bytes = 0;

  /** An interner that charges each distinct value `weigh(value)` bytes. */
  constructor(weigh: (value: T) => number) {
    this.#weigh = weigh;
  }

  /**
   * The shared copy of `value` (perhaps `value` itself), with one more user. An equal copy costs a
   * `JSON.stringify` of it: callers remember the answer for a value they pass again.
   */
  acquire(value: T): T {
    let entry = this.#byValue.get(value);
    if (entry === undefined) {
      const json = JSON.stringify(value);
      const hash = hashOf(json);
      const bucket = this.#byHash.get(hash) ?? [];
      // The text is not kept: a 2 MiB resource is not held twice. Equal hashes are compared in full.
      entry = bucket.find((candidate) => JSON.stringify(candidate.value) === json);
      if (entry === undefined) {
        entry = { value, hash, users: 0, bytes: this.#weigh(value) };
        bucket.push(entry);
        this.#byHash.set(hash, bucket);
        this.#byValue.set(value, entry);
        this.bytes += entry.bytes;
      }
    }
    entry.users++;
    return entry.value;
  }

  /** Drops one user of the shared copy `value`. */
  release(value: T): void {
    const entry = this.#byValue.get(value);
    if (entry === undefined || --entry.users > 0) return;
    this.#byValue.delete(value);
    this.bytes -= entry.bytes;
    const bucket = (this.#byHash.get(entry.hash) ?? []).filter((other) => other !== entry);
    if (bucket.length === 0) this.#byHash.delete(entry.hash);
    else this.#byHash.set(entry.hash, bucket);
  }

  /** How many distinct values are held. */
  get size(): number {
    let size = 0;
    for (const bucket of this.#byHash.values()) size += bucket.length;
    return size;
  }
}

/** FNV-1a over UTF-16 code units: a bucket key, never trusted alone. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
