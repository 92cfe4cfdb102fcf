/**
 * A binary min-heap of node indices keyed by a number, ties broken by the
 * index (nodes are indexed in id order, so ties go to the smaller id). Kept
 * in typed arrays: one heap per service per call can hold every node.
 */
export class NodeHeap {
  private readonly keys: Float64Array;
  private readonly ids: Int32Array;
  size = 0;

  constructor(capacity: number) {
    this.keys = new Float64Array(Math.max(1, capacity));
    this.ids = new Int32Array(Math.max(1, capacity));
  }

  /** Appends without ordering; call heapify() once after the last add. */
  add(key: number, id: number): void {
    this.keys[this.size] = key;
    this.ids[this.size] = id;
    this.size++;
  }

  heapify(): void {
    for (let i = (this.size >> 1) - 1; i >= 0; i--) this.down(i);
  }

  topId(): number {
    return this.ids[0];
  }

  topKey(): number {
    return this.keys[0];
  }

  pop(): void {
    this.size--;
    if (this.size > 0) {
      this.keys[0] = this.keys[this.size];
      this.ids[0] = this.ids[this.size];
      this.down(0);
    }
  }

  /** Gives the top a new key; a smaller one keeps it on top, a larger one sinks it. */
  rekeyTop(key: number): void {
    this.keys[0] = key;
    this.down(0);
  }

  private less(i: number, j: number): boolean {
    const a = this.keys[i];
    const b = this.keys[j];
    return a < b || (a === b && this.ids[i] < this.ids[j]);
  }

  private down(i: number): void {
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const c = r < n && this.less(r, l) ? r : l;
      if (!this.less(c, i)) return;
      const k = this.keys[i];
      const id = this.ids[i];
      this.keys[i] = this.keys[c];
      this.ids[i] = this.ids[c];
      this.keys[c] = k;
      this.ids[c] = id;
      i = c;
    }
  }
}

/** A small binary min-heap over any items with a comparator (groups of a spread preference). */
export class Heap<T> {
  private readonly items: T[] = [];

  constructor(private readonly cmp: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.cmp(a[i], a[p]) >= 0) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }

  peek(): T | undefined {
    return this.items[0];
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      this.down(0);
    }
    return top;
  }

  /** Re-sorts after the top item's key grew in place. */
  topChanged(): void {
    this.down(0);
  }

  private down(i: number): void {
    const a = this.items;
    const n = a.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const c = r < n && this.cmp(a[r], a[l]) < 0 ? r : l;
      if (this.cmp(a[c], a[i]) >= 0) return;
      [a[i], a[c]] = [a[c], a[i]];
      i = c;
    }
  }
}
