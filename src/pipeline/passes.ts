/**
 * Splitting a selection into consecutive passes: a pass takes items in order while their
 * summed weight stays within the budget (and, optionally, their count within a cap). An item
 * heavier than the budget gets a pass of its own rather than none.
 */
export function packInOrder<T>(items: T[], weight: (item: T) => number, budget: number, maxItems = Infinity): T[][] {
  const passes: T[][] = [];
  let current: T[] = [];
  let load = 0;
  for (const item of items) {
    const w = weight(item);
    if (current.length && (load + w > budget || current.length + 1 > maxItems)) {
      passes.push(current);
      current = [];
      load = 0;
    }
    current.push(item);
    load += w;
  }
  if (current.length) passes.push(current);
  return passes;
}
