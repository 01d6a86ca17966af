#!/usr/bin/env bash
# A/B of a fast-path change in the precise mode: builds <rev> (default HEAD~1) in a temporary worktree, builds the
# working tree, and runs both side by side (`--precise --against`), rounds interleaved, ratios per round.
# Usage: tests/SlabGen.Benchmarks/precise-ab.sh [rev] [more --precise options, e.g. --quick or --rounds 21]
set -euo pipefail
cd "$(dirname "$0")/../.."
rev=${1:-HEAD~1}
shift || true
base=$(mktemp -d /tmp/slabgen-ab.XXXXXX)
trap 'git worktree remove --force "$base" >/dev/null 2>&1 || true; rm -rf "$base"' EXIT
git worktree add --detach "$base" "$rev" >/dev/null
dotnet build "$base/tests/SlabGen.Benchmarks" -c Release -v quiet -nologo >/dev/null
dotnet build tests/SlabGen.Benchmarks -c Release -v quiet -nologo >/dev/null
echo "A/B: working tree ($(git rev-parse --short HEAD)+changes) against $rev ($(git rev-parse --short "$rev")); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
dotnet tests/SlabGen.Benchmarks/bin/Release/net10.0/SlabGen.Benchmarks.dll --precise \
  --against "$base/tests/SlabGen.Benchmarks/bin/Release/net10.0/SlabGen.Benchmarks.dll" "$@"
