#!/bin/sh
# Rebuilds kinds.o from kinds.c (needs clang-19).
set -e
cd "$(dirname "$0")"
${CLANG:-clang-19} -target bpfel -O2 -g -mcpu=v3 -ffile-prefix-map="$PWD"=. -c kinds.c -o kinds.o
${CLANG:-clang-19} -target bpfel -O2 -g -mcpu=v3 -ffile-prefix-map="$PWD"=. -c features.c -o features.o
