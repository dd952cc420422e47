// Baseline for the btf-show benchmark: parse a BTF file with libbpf and look up each name
// given on the command line, printing id, kind, size and member count. Exits 1 if a name
// is missing, like `bpfkit btf show`.
//   libbpf_show name BTF_FILE NAME...       btf__parse + btf__find_by_name (any kind; the
//                                           issue's baseline)
//   libbpf_show name_kind BTF_FILE NAME...  btf__parse + btf__find_by_name_kind(STRUCT)
#include <stdio.h>
#include <string.h>
#include <bpf/btf.h>

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "name") && strcmp(argv[1], "name_kind"))) {
		fprintf(stderr, "usage: %s name|name_kind BTF_FILE NAME...\n", argv[0]);
		return 2;
	}
	int by_kind = !strcmp(argv[1], "name_kind");
	struct btf *btf = btf__parse(argv[2], NULL);
	if (!btf) {
		perror("btf__parse");
		return 1;
	}
	int rc = 0;
	for (int i = 3; i < argc; i++) {
		int id = by_kind ? btf__find_by_name_kind(btf, argv[i], BTF_KIND_STRUCT)
				 : btf__find_by_name(btf, argv[i]);
		if (id < 0) {
			fprintf(stderr, "no type named '%s'\n", argv[i]);
			rc = 1;
			continue;
		}
		const struct btf_type *t = btf__type_by_id(btf, id);
		const char *kind = btf_is_struct(t) ? "STRUCT" : "OTHER";
		printf("[%d] %s '%s' size=%u vlen=%u\n", id, kind, argv[i], t->size, btf_vlen(t));
	}
	btf__free(btf);
	return rc;
}
