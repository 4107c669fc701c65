#!/bin/sh
# Rebuilds the committed test objects from their C sources.
set -e
cd "$(dirname "$0")"
clang-19 -target bpf -O2 -g -c hooks.c -o hooks.o
clang-19 -target bpf -O2 -g -c tailcall_skb.c -o tailcall_skb.o
