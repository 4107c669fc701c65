#!/bin/sh
# Rebuilds xdp_stats.o (committed, so running the example needs no clang) and the sample packets.
set -e
cd "$(dirname "$0")"
clang-19 -target bpf -O2 -g -c xdp_stats.c -o xdp_stats.o
python3 make_packets.py
