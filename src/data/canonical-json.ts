// JSON with object keys sorted at every level, so equal values give equal text whatever the field
// order: checkpoint configuration hashes, store manifests and the HTTP response cache's keys are
// all hashes of this text (changing it would orphan every stored hash).
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  });
}
