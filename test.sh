#!/usr/bin/env bash
# Runs every test of the solution. Installs the tools the tests use when they are missing (idempotent):
# clang-19/llvm-19 (compile C test programs, llvm-objdump as the disassembly oracle), tcpdump (classic BPF oracle),
# bpftool and libbpf-dev (kernel cross-checks), iproute2 (network namespaces for attach tests).
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v clang-19 >/dev/null 2>&1 || need+=(clang-19)
command -v llvm-objdump-19 >/dev/null 2>&1 || need+=(llvm-19)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v bpftool >/dev/null 2>&1 || need+=(bpftool)
[ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${need[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null) \
      || echo "test.sh: could not install ${need[*]}; tests that need them will skip and say why"
  else
    echo "test.sh: missing ${need[*]} (not root or no apt-get); tests that need them will skip and say why"
  fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test BpfSharp.sln -c Release 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over all test assemblies, in the plain form CI reads.
awk '/(Passed|Failed)!/ {
       for (i = 1; i <= NF; i++) {
         if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1)
       }
     }
     END { gsub(",", "", p); printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
