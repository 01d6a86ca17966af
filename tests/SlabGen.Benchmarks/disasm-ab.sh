#!/usr/bin/env bash
# The tier-1 machine code of the precise mode's cases, <rev> (default HEAD) against the working tree: builds both,
# runs each precise child for two rounds with DOTNET_JitDisasm, and diffs the listings with addresses masked.
# Usage: tests/SlabGen.Benchmarks/disasm-ab.sh [rev] ["MethodA MethodB" (default: the pair, call and batch cases)]
set -euo pipefail
cd "$(dirname "$0")/../.."
rev=${1:-HEAD}
methods=${2:-"TypedLoop TypedOne TypedThisThreadLoop KmemCacheLoop KmemCacheOne KmallocLoop KmallocOne TypedBatch KmemCacheBatch KmallocBatch PagePairs"}
base=$(mktemp -d /tmp/slabgen-disasm.XXXXXX)
trap 'git worktree remove --force "$base" >/dev/null 2>&1 || true; rm -rf "$base" /tmp/slabgen-disasm-*.txt' EXIT
git worktree add --detach "$base" "$rev" >/dev/null
dotnet build "$base/tests/SlabGen.Benchmarks" -c Release -v quiet -nologo >/dev/null
dotnet build tests/SlabGen.Benchmarks -c Release -v quiet -nologo >/dev/null
listing() { # $1 = benchmark build directory, $2 = output
  # Without dynamic PGO: its counts differ from run to run, and so would block layout.
  (echo round; sleep 1; echo round) | DOTNET_TieredPGO=0 DOTNET_JitDisasm="$methods" DOTNET_JitStdOutFile="$2.raw" \
    dotnet "$1/bin/Release/net10.0/SlabGen.Benchmarks.dll" --precise-child 3 >/dev/null
  # The last tier-1 listing of each method, in name order (the JIT compiles in the background, in no fixed order).
  python3 - "$2.raw" "$2" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = {}
for part in re.split(r'(?m)^; Assembly listing for method ', text)[1:]:
    header, _, body = part.partition('\n')
    if '(Tier1)' not in header:
        continue
    name = header.split(' (')[0]
    code = [l for l in body.split('\n') if not l.startswith(';')]
    code = [re.sub(r'0x[0-9A-F]{8,}', 'ADDR', re.sub(r'\(reloc [^)]*\)', 'RELOC', l)) for l in code]
    blocks[name] = '; ' + name + '\n' + '\n'.join(code).strip() + '\n'
open(sys.argv[2], 'w').write(''.join(blocks[k] for k in sorted(blocks)))
PY
}
listing "$base/tests/SlabGen.Benchmarks" /tmp/slabgen-disasm-base.txt
listing tests/SlabGen.Benchmarks /tmp/slabgen-disasm-this.txt
if diff -u /tmp/slabgen-disasm-base.txt /tmp/slabgen-disasm-this.txt; then
  echo "machine code identical to $rev: $(grep -c '^; ' /tmp/slabgen-disasm-this.txt) tier-1 listings ($(grep '^; ' /tmp/slabgen-disasm-this.txt | sed -E 's/^; [^:]*:([^(]*)\(.*/\1/' | tr '\n' ' '))"
fi
