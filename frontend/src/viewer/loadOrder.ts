// The order a volume's frames are requested in: the slice on screen first, then outwards, so
// the first image does not wait for half the series (browsers send six requests at a time to
// one HTTP/1.1 origin, in the order they were made).

/** 0..count-1 by distance from `first` (ties: the lower index first). */
export function nearestFirst(count: number, first: number): number[] {
  const order: number[] = [];
  if (count <= 0) return order;
  const start = Math.min(count - 1, Math.max(0, Math.round(first)));
  order.push(start);
  for (let step = 1; order.length < count; step++) {
    if (start - step >= 0) order.push(start - step);
    if (start + step < count) order.push(start + step);
  }
  return order;
}
