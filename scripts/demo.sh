#!/usr/bin/env bash
# The pipeline end to end on the local stack, as far as it is built. Run through `make demo`,
# which starts the services and exports their settings first.
set -euo pipefail
cd "$(dirname "$0")/.."

pinpipe() { node dist/jobs/cli.js "$@"; }
out=out/demo
mkdir -p "$out"

echo "== services"
pinpipe check

echo "== emulate: 2000 posts (6000 records) from the real seed pins"
pinpipe emulate --count 2000 --seed 42 --start-time now --out "$out/emulated.ndjson" --log-level warn
node --input-type=module - "$out/emulated.ndjson" <<'JS'
import { readFileSync } from 'node:fs';
const lines = readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const tally = (items) => Object.fromEntries([...items.reduce((m, k) => m.set(k, (m.get(k) ?? 0) + 1), new Map())].sort((a, b) => b[1] - a[1]));
const pins = lines.filter((l) => l.type === 'pin').map((l) => l.record);
console.log('records by type:', tally(lines.map((l) => l.type)));
console.log('pins by category:', tally(pins.map((p) => p.category)));
console.log('follower counts "User Info Error":', pins.filter((p) => p.follower_count === 'User Info Error').length, 'of', pins.length);
JS
echo "wrote $out/emulated.ndjson"
