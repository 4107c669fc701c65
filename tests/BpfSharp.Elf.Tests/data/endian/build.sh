#!/bin/sh
# Rebuilds the committed little- and big-endian objects from sample.c (needs clang-19).
set -e
cd "$(dirname "$0")"
CLANG=${CLANG:-clang-19}
for t in bpfel bpfeb; do
	$CLANG -target $t -O2 -g -mcpu=v3 -ffile-prefix-map="$PWD"=. -c sample.c -o sample-$t.o
done
