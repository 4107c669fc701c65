# Iterative Fibonacci: r0 = fib(40) = 102334155.
# Conformance-suite syntax; run with: bpfsharp run examples/asm/fibonacci.s
mov %r1, 40          # n
mov %r0, 0           # fib(0)
mov %r2, 1           # fib(1)
loop:
jeq %r1, 0, done
mov %r3, %r0
add %r3, %r2
mov %r0, %r2
mov %r2, %r3
sub %r1, 1
ja loop
done:
exit
