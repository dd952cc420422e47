// Baseline for the btf-show benchmark: parse a BTF file with libbpf and look up each
// struct name given on the command line (btf__parse + btf__find_by_name_kind), printing
// id, size and member count. Exits 1 if a name is missing, like `bpfkit btf show`.
#include <stdio.h>
#include <bpf/btf.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s BTF_FILE NAME...\n", argv[0]);
		return 2;
	}
	struct btf *btf = btf__parse(argv[1], NULL);
	if (!btf) {
		perror("btf__parse");
		return 1;
	}
	int rc = 0;
	for (int i = 2; i < argc; i++) {
		int id = btf__find_by_name_kind(btf, argv[i], BTF_KIND_STRUCT);
		if (id < 0) {
			fprintf(stderr, "no struct named '%s'\n", argv[i]);
			rc = 1;
			continue;
		}
		const struct btf_type *t = btf__type_by_id(btf, id);
		printf("[%d] STRUCT '%s' size=%u vlen=%u\n", id, argv[i], t->size, btf_vlen(t));
	}
	btf__free(btf);
	return rc;
}
