#!/usr/bin/env bash
# The g2p demo over three seeds (initialization, batch order, dropout): word exact match and phoneme
# error rate of the teacher, the distilled student and the baseline on the same 1,600 held-out words.
# Usage: bash experiments/g2p-seeds.sh [OUT_DIR]   (about 7 minutes per seed on 2 cores)
set -euo pipefail
out="${1:-experiments/out/g2p}"
mkdir -p "$out"
for seed in 0 1 2; do
  npx retort demo --task g2p --seed "$seed" --out "$out/seed-$seed" > "$out/seed-$seed.log" 2>&1
  echo "seed $seed done"
done
node -e '
const fs = require("fs");
const out = process.argv[1];
const rows = [0, 1, 2].map((s) => JSON.parse(fs.readFileSync(`${out}/seed-${s}/eval.json`, "utf8")));
const pct = (x) => (100 * x).toFixed(1);
for (const name of ["teacher", "student", "baseline"]) {
  const em = rows.map((r) => r.models.find((m) => m.name === name).task.exactMatch);
  const per = rows.map((r) => r.models.find((m) => m.name === name).task.tokenErrorRate);
  const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
  console.log(`${name.padEnd(9)} exact ${em.map(pct).join(" / ")} (mean ${pct(mean(em))}, spread ${pct(Math.max(...em) - Math.min(...em))})  PER ${per.map(pct).join(" / ")} (mean ${pct(mean(per))})`);
}
const gap = rows.map((r) => r.models.find((m) => m.name === "student").task.exactMatch - r.models.find((m) => m.name === "baseline").task.exactMatch);
console.log(`student − baseline exact match per seed: ${gap.map((g) => pct(g)).join(" / ")} points`);
' "$out"
