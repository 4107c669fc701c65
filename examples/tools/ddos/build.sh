#!/bin/sh
# Rebuilds the committed object; needs clang with the BPF target (clang-19 or newer).
set -e
cd "$(dirname "$0")"
CLANG=${CLANG:-$(command -v clang-19 || command -v clang)}
"$CLANG" -O2 -g -target bpf -c ddos.bpf.c -o ddos.bpf.o
