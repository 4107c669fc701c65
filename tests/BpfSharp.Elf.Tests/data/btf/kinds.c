/* kinds.c - uses every BTF kind clang emits for BPF so the parser sees them all:
 * INT PTR ARRAY STRUCT UNION ENUM FWD TYPEDEF VOLATILE CONST RESTRICT FUNC FUNC_PROTO
 * VAR DATASEC FLOAT DECL_TAG TYPE_TAG ENUM64.  Built by build.sh (clang-19 -target bpfel -O2 -g). */
#define SEC(name) __attribute__((section(name), used))
#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __user __attribute__((btf_type_tag("user")))

typedef unsigned long long u64;
struct opaque;                                   /* FWD */
enum small { SMALL_A = -1, SMALL_B = 7 };        /* ENUM, signed */
enum big { BIG_A = 0x123456789aULL, BIG_B = 1 }; /* ENUM64 */

union either { int i; float f; };                /* UNION, FLOAT */

struct holder {
	volatile int v;                          /* VOLATILE */
	const char *const name;                  /* CONST */
	int *restrict r;                         /* RESTRICT */
	struct opaque *hidden;
	union either e;
	enum small s;
	enum big b;
	int __user *uptr;                        /* TYPE_TAG */
	unsigned int bits : 5 __tag("narrow");   /* DECL_TAG on a member */
	double d;
	u64 arr[3][2];
};

struct holder global_holder SEC(".data.holder") = { .v = 1 };
int counter __tag("counted") = 5;

__attribute__((noinline)) static int helper(struct holder *h __tag("param"))
{
	return h->v + h->s + (int)h->b + h->bits;
}

SEC("socket") int prog(void *ctx)
{
	return helper(&global_holder) + counter;
}

char _license[] SEC("license") = "GPL";
