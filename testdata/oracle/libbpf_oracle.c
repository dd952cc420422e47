// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * libbpf_oracle: ground truth from the system's libbpf for bpfkit's tests.
 *
 * Built and run by crates/bpfkit-test-support (gcc, -lbpf -lelf -lz). Prints one JSON
 * document on stdout.
 *
 *   libbpf_oracle parse OBJ
 *       bpf_object__open_file() only (no kernel): programs and maps as libbpf sees them.
 *   libbpf_oracle relocated OBJ [--btf PATH] [--pin-root DIR] [--max-entries MAP=N]...
 *                              [--value-size MAP=N]...
 *                              [--autoload PROG=0|1]... [--prog-type PROG=N]... [--fake-load]
 *       bpf_object__open_file() (btf_custom_path, pin_root_path from --btf, --pin-root)
 *       + bpf_object__load(). Every BPF_PROG_LOAD command libbpf
 *       issues goes through this file's `syscall` (it interposes libc's), which records
 *       the program's name, type, expected attach type, attach_btf_id and instructions
 *       before forwarding to the kernel. With --fake-load the program loads of the
 *       object's programs are not forwarded: they "succeed" with a /dev/null fd (and
 *       BPF_PROG_BIND_MAP on such an fd succeeds too), so code the kernel would reject
 *       still shows its relocated form.
 *
 *   libbpf_oracle load OBJ [same options as relocated] [--pin-dir DIR]
 *       bpf_object__open_file() + bpf_object__load() with nothing recorded, then prints
 *       {"loaded": N}: libbpf as a plain loader, e.g. the baseline of load benchmarks.
 *       With --pin-dir, bpf_object__pin_programs(DIR) and, unless the object has maps
 *       pinned by name, bpf_object__pin_maps(DIR/maps) keep everything loaded.
 *   libbpf_oracle btf-find BTF NAME...
 *       btf__parse(BTF) (raw BTF or an ELF's .BTF) then btf__find_by_name() per NAME:
 *       {"types": [{"name", "id", "kind", "size"}]} with id -1 when absent; the libbpf
 *       side of the `btf show` benchmark.
 *
 *   libbpf_oracle trace OBJ [options] [--attach-auto PROG=] [--attach-uprobe PROG=BIN:FUNC]
 *                         [--attach-usdt PROG=BIN:PROVIDER:NAME]... -- CMD ARGS...
 *       Loads OBJ, starts CMD (stdin and stdout on /dev/null) held on a pipe, attaches
 *       the programs (bpf_program__attach; __attach_uprobe_opts with func_name,
 *       retprobe for uretprobe sections, and __attach_usdt, both for CMD's pid only),
 *       lets CMD run to completion, detaches, then prints
 *       {"exit_code", "globals": {".bss": {VAR: value}, ".data": {...}}}: the integer
 *       variables of the object's .bss/.data maps, read little-endian as unsigned.
 *
 * Pins that libbpf creates for LIBBPF_PIN_BY_NAME maps are removed again before exit,
 * except by `load --pin-dir` (the caller owns them then). On open/load failure the
 * document has "error": {"errno", "message", "log"} where log holds every line libbpf
 * printed at warn/info level.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

/* ---- JSON output ------------------------------------------------------------------ */

static void json_str(const char *s)
{
	if (!s) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", stdout); break;
		case '\\': fputs("\\\\", stdout); break;
		case '\n': fputs("\\n", stdout); break;
		case '\t': fputs("\\t", stdout); break;
		case '\r': fputs("\\r", stdout); break;
		default:
			if (*p < 0x20 || *p >= 0x7f)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
	}
	putchar('"');
}

/* ---- libbpf's log, kept for error reports ------------------------------------------ */

static char *log_lines[4096];
static int log_count;

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char *line = NULL;
	if (level == LIBBPF_DEBUG)
		return 0;
	if (vasprintf(&line, fmt, args) < 0 || !line)
		return 0;
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = 0;
	if (log_count < (int)(sizeof(log_lines) / sizeof(log_lines[0])))
		log_lines[log_count++] = line;
	else
		free(line);
	return 0;
}

static void print_error(int err)
{
	char msg[256];
	if (err < 0)
		err = -err;
	libbpf_strerror(err, msg, sizeof(msg));
	fputs("\"error\":{\"errno\":", stdout);
	printf("%d,\"message\":", err);
	json_str(msg);
	fputs(",\"log\":[", stdout);
	for (int i = 0; i < log_count; i++) {
		if (i)
			putchar(',');
		json_str(log_lines[i]);
	}
	fputs("]}", stdout);
}

/* ---- syscall interposition -------------------------------------------------------- */

struct recorded_load {
	char name[BPF_OBJ_NAME_LEN + 1];
	__u32 prog_type;
	__u32 expected_attach_type;
	__u32 attach_btf_id;
	__u32 attach_prog_fd;
	__u32 prog_flags;
	__u32 log_level;
	__u32 insn_cnt;
	struct bpf_insn *insns;
	long result;
	int err;
};

static struct recorded_load *loads;
static int load_count, load_cap;
/* Names (truncated as the kernel sees them) of the programs whose loads are faked. */
static char fake_names[1024][BPF_OBJ_NAME_LEN + 1];
static int fake_count;
static int recording;

typedef long (*syscall_fn)(long, ...);

static long real_syscall(long nr, long a, long b, long c, long d, long e, long f)
{
	static syscall_fn real;
	if (!real)
		real = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
	return real(nr, a, b, c, d, e, f);
}

/* Dummy fds handed out for faked loads: BPF_PROG_BIND_MAP on them "succeeds" too. */
static int fake_fds[1024];
static int fake_fd_count;

static int is_fake_fd(int fd)
{
	for (int i = 0; i < fake_fd_count; i++)
		if (fake_fds[i] == fd)
			return 1;
	return 0;
}

static int is_faked(const char *name)
{
	for (int i = 0; i < fake_count; i++)
		if (strcmp(fake_names[i], name) == 0)
			return 1;
	return 0;
}

long syscall(long nr, ...)
{
	va_list ap;
	long a[6];
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);

	if (nr == __NR_bpf && a[0] == BPF_PROG_BIND_MAP && fake_fd_count) {
		const union bpf_attr *bind = (const union bpf_attr *)a[1];
		if (is_fake_fd((int)bind->prog_bind_map.prog_fd))
			return 0;
	}
	if (nr != __NR_bpf || a[0] != BPF_PROG_LOAD || !recording)
		return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);

	/* Read only the `size` bytes libbpf passed (probes pass short attrs). */
	union bpf_attr copy;
	size_t size = (size_t)a[2] < sizeof(copy) ? (size_t)a[2] : sizeof(copy);
	memset(&copy, 0, sizeof(copy));
	memcpy(&copy, (const void *)a[1], size);
	const union bpf_attr *attr = &copy;
	if (load_count == load_cap) {
		load_cap = load_cap ? load_cap * 2 : 64;
		loads = realloc(loads, sizeof(*loads) * load_cap);
		if (!loads)
			abort();
	}
	struct recorded_load *r = &loads[load_count++];
	memset(r, 0, sizeof(*r));
	memcpy(r->name, attr->prog_name, BPF_OBJ_NAME_LEN);
	r->prog_type = attr->prog_type;
	r->expected_attach_type = attr->expected_attach_type;
	r->attach_btf_id = attr->attach_btf_id;
	r->attach_prog_fd = attr->attach_prog_fd;
	r->prog_flags = attr->prog_flags;
	r->log_level = attr->log_level;
	r->insn_cnt = attr->insn_cnt;
	r->insns = malloc(sizeof(struct bpf_insn) * (r->insn_cnt ? r->insn_cnt : 1));
	if (!r->insns)
		abort();
	memcpy(r->insns, (const void *)(unsigned long)attr->insns,
	       sizeof(struct bpf_insn) * r->insn_cnt);

	long ret;
	if (r->name[0] && is_faked(r->name)) {
		ret = open("/dev/null", O_RDONLY | O_CLOEXEC);
		r->err = 0;
		if (ret >= 0 && fake_fd_count < 1024)
			fake_fds[fake_fd_count++] = (int)ret;
	} else {
		ret = real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		r->err = ret < 0 ? errno : 0;
	}
	r->result = ret;
	return ret;
}

/* ---- commands --------------------------------------------------------------------- */

static void print_programs(struct bpf_object *obj)
{
	struct bpf_program *prog;
	int first = 1;
	fputs("\"programs\":[", stdout);
	bpf_object__for_each_program(prog, obj) {
		if (!first)
			putchar(',');
		first = 0;
		enum bpf_prog_type t = bpf_program__type(prog);
		enum bpf_attach_type at = bpf_program__expected_attach_type(prog);
		fputs("{\"name\":", stdout);
		json_str(bpf_program__name(prog));
		fputs(",\"section\":", stdout);
		json_str(bpf_program__section_name(prog));
		printf(",\"prog_type\":%u,\"prog_type_name\":", (unsigned)t);
		json_str(libbpf_bpf_prog_type_str(t));
		printf(",\"expected_attach_type\":%u,\"expected_attach_type_name\":", (unsigned)at);
		json_str(libbpf_bpf_attach_type_str(at));
		printf(",\"autoload\":%s,\"insn_count\":%zu,\"prog_flags\":%u}",
		       bpf_program__autoload(prog) ? "true" : "false", bpf_program__insn_cnt(prog),
		       bpf_program__flags(prog));
	}
	putchar(']');
}

static void print_maps(struct bpf_object *obj)
{
	struct bpf_map *map;
	int first = 1;
	fputs("\"maps\":[", stdout);
	bpf_object__for_each_map(map, obj) {
		if (!first)
			putchar(',');
		first = 0;
		enum bpf_map_type t = bpf_map__type(map);
		struct bpf_map *inner = bpf_map__inner_map(map);
		fputs("{\"name\":", stdout);
		json_str(bpf_map__name(map));
		printf(",\"map_type\":%u,\"map_type_name\":", (unsigned)t);
		json_str(libbpf_bpf_map_type_str(t));
		printf(",\"key_size\":%u,\"value_size\":%u,\"max_entries\":%u,\"map_flags\":%u,"
		       "\"map_extra\":%llu,\"numa_node\":%u,\"internal\":%s,\"pin_path\":",
		       bpf_map__key_size(map), bpf_map__value_size(map), bpf_map__max_entries(map),
		       bpf_map__map_flags(map), (unsigned long long)bpf_map__map_extra(map),
		       bpf_map__numa_node(map), bpf_map__is_internal(map) ? "true" : "false");
		json_str(bpf_map__pin_path(map));
		fputs(",\"inner_map_type\":", stdout);
		if (inner)
			printf("%u", (unsigned)bpf_map__type(inner));
		else
			fputs("null", stdout);
		putchar('}');
	}
	putchar(']');
}

static int cmd_parse(const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	putchar('{');
	if (!obj) {
		print_error(errno);
		puts("}");
		return 0;
	}
	print_programs(obj);
	putchar(',');
	print_maps(obj);
	puts("}");
	bpf_object__close(obj);
	return 0;
}

static void usage(void)
{
	fputs("usage: libbpf_oracle parse OBJ\n"
	      "       libbpf_oracle btf-find BTF NAME...\n"
	      "       libbpf_oracle load OBJ [relocated's options] [--pin-dir DIR]\n"
	      "       libbpf_oracle trace OBJ [--btf P] [--max-entries|--autoload|--prog-type X=N]...\n"
	      "                               [--attach-auto PROG=] [--attach-uprobe PROG=BIN:FUNC]\n"
	      "                               [--attach-usdt PROG=BIN:PROVIDER:NAME]... -- CMD ARGS...\n"
	      "       libbpf_oracle relocated OBJ [--btf PATH] [--pin-root DIR] [--max-entries MAP=N]...\n"
	      "                                   [--autoload PROG=0|1]... [--prog-type PROG=N]...\n"
	      "                                   [--fake-load]\n",
	      stderr);
	exit(2);
}

static int cmd_btf_find(int argc, char **argv)
{
	struct btf *btf = btf__parse(argv[0], NULL);
	putchar('{');
	if (!btf) {
		print_error(errno);
		puts("}");
		return 0;
	}
	fputs("\"types\":[", stdout);
	for (int i = 1; i < argc; i++) {
		__s32 id = btf__find_by_name(btf, argv[i]);
		if (i > 1)
			putchar(',');
		fputs("{\"name\":", stdout);
		json_str(argv[i]);
		if (id < 0) {
			fputs(",\"id\":-1,\"kind\":null,\"size\":null}", stdout);
			continue;
		}
		const struct btf_type *t = btf__type_by_id(btf, id);
		__s64 size = btf__resolve_size(btf, id);
		printf(",\"id\":%d,\"kind\":%u,\"size\":", id, btf_kind(t));
		if (size >= 0)
			printf("%lld}", (long long)size);
		else
			fputs("null}", stdout);
	}
	puts("]}");
	btf__free(btf);
	return 0;
}

/* Maps pinned by name (LIBBPF_PIN_BY_NAME) whose pin did not exist before the load:
 * the oracle removes those pins again unless it was asked to keep things loaded. */
static struct bpf_map *new_pins[256];
static int new_pin_count;

static void note_new_pins(struct bpf_object *obj)
{
	struct bpf_map *map;
	bpf_object__for_each_map(map, obj) {
		const char *pin = bpf_map__pin_path(map);
		if (pin && access(pin, F_OK) != 0 && new_pin_count < 256)
			new_pins[new_pin_count++] = map;
	}
}

static void remove_new_pins(void)
{
	for (int i = 0; i < new_pin_count; i++)
		if (bpf_map__is_pinned(new_pins[i]))
			bpf_map__unpin(new_pins[i], NULL);
	new_pin_count = 0;
}

/* Applies --max-entries/--value-size/--autoload/--prog-type of argv[1..] to an opened object. */
static int apply_object_options(struct bpf_object *obj, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		int is_max = strcmp(argv[i], "--max-entries") == 0;
		int is_vsize = strcmp(argv[i], "--value-size") == 0;
		int is_auto = strcmp(argv[i], "--autoload") == 0;
		int is_type = strcmp(argv[i], "--prog-type") == 0;
		if (!is_max && !is_vsize && !is_auto && !is_type)
			continue;
		char *arg = argv[++i];
		char *eq = strrchr(arg, '=');
		if (!eq) {
			fprintf(stderr, "libbpf_oracle: expected NAME=VALUE, got '%s'\n", arg);
			return -1;
		}
		*eq = 0;
		unsigned long value = strtoul(eq + 1, NULL, 0);
		if (is_max || is_vsize) {
			struct bpf_map *map = bpf_object__find_map_by_name(obj, arg);
			if (!map) {
				fprintf(stderr, "libbpf_oracle: no map '%s'\n", arg);
				return -1;
			}
			if (is_max)
				bpf_map__set_max_entries(map, (__u32)value);
			else
				bpf_map__set_value_size(map, (__u32)value);
		} else {
			struct bpf_program *prog = bpf_object__find_program_by_name(obj, arg);
			if (!prog) {
				fprintf(stderr, "libbpf_oracle: no program '%s'\n", arg);
				return -1;
			}
			if (is_auto)
				bpf_program__set_autoload(prog, value != 0);
			else
				bpf_program__set_type(prog, (enum bpf_prog_type)value);
		}
	}

	return 0;
}

static int cmd_relocated(int argc, char **argv, int quiet)
{
	const char *path = argv[0];
	const char *btf_path = NULL;
	const char *pin_root = NULL;
	const char *pin_dir = NULL;
	int fake = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--btf") == 0 && i + 1 < argc)
			btf_path = argv[++i];
		else if (strcmp(argv[i], "--pin-root") == 0 && i + 1 < argc)
			pin_root = argv[++i];
		else if (quiet && strcmp(argv[i], "--pin-dir") == 0 && i + 1 < argc)
			pin_dir = argv[++i];
		else if (strcmp(argv[i], "--fake-load") == 0)
			fake = 1;
		else if ((strcmp(argv[i], "--max-entries") == 0 ||
			  strcmp(argv[i], "--value-size") == 0 ||
			  strcmp(argv[i], "--autoload") == 0 ||
			  strcmp(argv[i], "--prog-type") == 0) && i + 1 < argc)
			i++;
		else
			usage();
	}

	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = btf_path,
		    .pin_root_path = pin_root);
	struct bpf_object *obj = bpf_object__open_file(path, &opts);
	putchar('{');
	if (!obj) {
		print_error(errno);
		puts("}");
		return 0;
	}

	if (apply_object_options(obj, argc, argv))
		return 2;

	/* Kernel-visible names of the programs to load, in the order libbpf loads them. */
	struct bpf_program *prog;
	if (fake) {
		bpf_object__for_each_program(prog, obj) {
			if (!bpf_program__autoload(prog) || fake_count == 1024)
				continue;
			snprintf(fake_names[fake_count++], BPF_OBJ_NAME_LEN, "%s",
				 bpf_program__name(prog));
		}
	}

	note_new_pins(obj);
	recording = !quiet;
	int err = bpf_object__load(obj);
	recording = 0;
	/* A pinned load hands its pins (pin-by-name ones included) to the caller. */
	if (pin_dir && !err)
		new_pin_count = 0;
	remove_new_pins();

	if (quiet) {
		int loaded = 0;
		bpf_object__for_each_program(prog, obj)
			loaded += bpf_program__fd(prog) >= 0;
		if (!err && pin_dir) {
			struct bpf_map *map;
			int auto_pinned = 0;
			char maps_dir[4096];
			bpf_object__for_each_map(map, obj)
				auto_pinned |= bpf_map__pin_path(map) != NULL;
			err = bpf_object__pin_programs(obj, pin_dir);
			snprintf(maps_dir, sizeof(maps_dir), "%s/maps", pin_dir);
			if (!err && !auto_pinned)
				err = bpf_object__pin_maps(obj, maps_dir);
		}
		if (err)
			print_error(err);
		else
			printf("\"loaded\":%d", loaded);
		puts("}");
		bpf_object__close(obj);
		return 0;
	}

	print_programs(obj);
	putchar(',');
	print_maps(obj);
	/* Every BPF_PROG_LOAD issued during load, feature probes included, in order. */
	fputs(",\"loads\":[", stdout);
	for (int i = 0; i < load_count; i++) {
		struct recorded_load *r = &loads[i];
		if (i)
			putchar(',');
		fputs("{\"name\":", stdout);
		json_str(r->name);
		printf(",\"prog_type\":%u,\"expected_attach_type\":%u,\"attach_btf_id\":%u,"
		       "\"attach_prog_fd\":%u,\"prog_flags\":%u,\"log_level\":%u,\"ok\":%s,\"errno\":%d,\"insns\":[",
		       r->prog_type, r->expected_attach_type, r->attach_btf_id, r->attach_prog_fd,
		       r->prog_flags, r->log_level, r->result >= 0 ? "true" : "false", r->err);
		for (__u32 j = 0; j < r->insn_cnt; j++) {
			const unsigned char *b = (const unsigned char *)&r->insns[j];
			printf("%s\"", j ? "," : "");
			for (int k = 0; k < 8; k++)
				printf("%02x", b[k]);
			putchar('"');
		}
		fputs("]}", stdout);
	}
	putchar(']');
	if (err) {
		putchar(',');
		print_error(err);
	}
	puts("}");
	bpf_object__close(obj);
	return 0;
}

/* Prints {"SECTION": {"VAR": value, ...}, ...} for the integer variables (1, 2, 4 or 8
 * bytes, read little-endian as unsigned) of the object's .bss and .data maps. */
static void print_globals(struct bpf_object *obj)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map;
	int first_sec = 1;
	fputs("\"globals\":{", stdout);
	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		const char *dot = bpf_map__is_internal(map) ? strchr(name, '.') : NULL;
		if (!dot || !btf || (strncmp(dot, ".bss", 4) && strncmp(dot, ".data", 5)))
			continue;
		__s32 sec_id = btf__find_by_name_kind(btf, dot, BTF_KIND_DATASEC);
		size_t size = bpf_map__value_size(map);
		unsigned char *value = calloc(1, size);
		__u32 key = 0;
		if (sec_id < 0 || !value || bpf_map__lookup_elem(map, &key, sizeof(key), value, size, 0)) {
			free(value);
			continue;
		}
		if (!first_sec)
			putchar(',');
		first_sec = 0;
		json_str(dot);
		putchar(':');
		putchar('{');
		const struct btf_type *sec = btf__type_by_id(btf, sec_id);
		const struct btf_var_secinfo *vi = btf_var_secinfos(sec);
		int first_var = 1;
		for (int i = 0; i < btf_vlen(sec); i++, vi++) {
			if (!(vi->size == 1 || vi->size == 2 || vi->size == 4 || vi->size == 8) ||
			    vi->offset + vi->size > size)
				continue;
			unsigned long long v = 0;
			for (int b = (int)vi->size - 1; b >= 0; b--)
				v = (v << 8) | value[vi->offset + b];
			if (!first_var)
				putchar(',');
			first_var = 0;
			json_str(btf__name_by_offset(btf, btf__type_by_id(btf, vi->type)->name_off));
			printf(":%llu", v);
		}
		putchar('}');
		free(value);
	}
	putchar('}');
}

static struct bpf_link *attach_one(struct bpf_object *obj, const char *kind, char *spec,
				   pid_t pid)
{
	char *eq = strchr(spec, '=');
	if (!eq) {
		fprintf(stderr, "libbpf_oracle: expected PROG=..., got '%s'\n", spec);
		exit(2);
	}
	*eq = 0;
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, spec);
	if (!prog) {
		fprintf(stderr, "libbpf_oracle: no program '%s'\n", spec);
		exit(2);
	}
	char *target = eq + 1;
	if (strcmp(kind, "auto") == 0)
		return bpf_program__attach(prog);
	char *colon = strchr(target, ':');
	if (!colon) {
		fprintf(stderr, "libbpf_oracle: expected BINARY:..., got '%s'\n", target);
		exit(2);
	}
	*colon = 0;
	if (strcmp(kind, "uprobe") == 0) {
		const char *sec = bpf_program__section_name(prog);
		LIBBPF_OPTS(bpf_uprobe_opts, uopts, .func_name = colon + 1,
			    .retprobe = strncmp(sec, "uretprobe", 9) == 0);
		return bpf_program__attach_uprobe_opts(prog, pid, target, 0, &uopts);
	}
	char *colon2 = strchr(colon + 1, ':');
	if (!colon2) {
		fprintf(stderr, "libbpf_oracle: expected BINARY:PROVIDER:NAME\n");
		exit(2);
	}
	*colon2 = 0;
	return bpf_program__attach_usdt(prog, pid, target, colon + 1, colon2 + 1, NULL);
}

static int cmd_trace(int argc, char **argv)
{
	const char *path = argv[0];
	const char *btf_path = NULL;
	const char *pin_root = NULL;
	int cmd_at = -1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			cmd_at = i + 1;
			break;
		}
		if (strcmp(argv[i], "--btf") == 0 && i + 1 < argc)
			btf_path = argv[++i];
		else if (strcmp(argv[i], "--pin-root") == 0 && i + 1 < argc)
			pin_root = argv[++i];
		else if ((strcmp(argv[i], "--max-entries") == 0 ||
			  strcmp(argv[i], "--value-size") == 0 ||
			  strcmp(argv[i], "--autoload") == 0 ||
			  strcmp(argv[i], "--prog-type") == 0 ||
			  strcmp(argv[i], "--attach-auto") == 0 ||
			  strcmp(argv[i], "--attach-uprobe") == 0 ||
			  strcmp(argv[i], "--attach-usdt") == 0) && i + 1 < argc)
			i++;
		else
			usage();
	}
	if (cmd_at < 0 || cmd_at >= argc)
		usage();

	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = btf_path,
		    .pin_root_path = pin_root);
	struct bpf_object *obj = bpf_object__open_file(path, &opts);
	putchar('{');
	if (!obj) {
		print_error(errno);
		puts("}");
		return 0;
	}
	if (apply_object_options(obj, cmd_at - 1, argv))
		return 2;
	note_new_pins(obj);
	int err = bpf_object__load(obj);
	remove_new_pins();
	if (err) {
		print_error(err);
		puts("}");
		return 0;
	}

	/* The command starts first, held on a pipe until its uprobes and USDT probes are
	 * attached to its pid only: concurrent runs of the same binary do not count. */
	int go[2];
	if (pipe(go))
		abort();
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		char byte;
		close(go[1]);
		if (read(go[0], &byte, 1) != 1)
			_exit(126);
		int null_fd = open("/dev/null", O_RDWR);
		if (null_fd >= 0) {
			dup2(null_fd, 0);
			dup2(null_fd, 1);
		}
		execvp(argv[cmd_at], argv + cmd_at);
		_exit(127);
	}
	close(go[0]);
	struct bpf_link *links[256];
	int link_count = 0;
	for (int i = 1; child > 0 && i < cmd_at - 1; i++) {
		const char *kind = NULL;
		if (strcmp(argv[i], "--attach-auto") == 0)
			kind = "auto";
		else if (strcmp(argv[i], "--attach-uprobe") == 0)
			kind = "uprobe";
		else if (strcmp(argv[i], "--attach-usdt") == 0)
			kind = "usdt";
		if (!kind)
			continue;
		struct bpf_link *link = attach_one(obj, kind, argv[++i], child);
		if (!link) {
			err = -errno;
			break;
		}
		if (link_count < 256)
			links[link_count++] = link;
	}
	if (child < 0)
		err = -errno;
	if (err) {
		/* Closing the pipe unblocks the child, which then exits without running. */
		close(go[1]);
		if (child > 0)
			waitpid(child, NULL, 0);
		for (int i = 0; i < link_count; i++)
			bpf_link__destroy(links[i]);
		print_error(err);
		puts("}");
		return 0;
	}
	if (write(go[1], "g", 1) != 1)
		abort();
	close(go[1]);
	int status = 0;
	if (child < 0 || waitpid(child, &status, 0) < 0)
		status = -1;
	for (int i = 0; i < link_count; i++)
		bpf_link__destroy(links[i]);
	printf("\"exit_code\":%d,", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	print_globals(obj);
	puts("}");
	bpf_object__close(obj);
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(print_fn);
	if (argc == 3 && strcmp(argv[1], "parse") == 0)
		return cmd_parse(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "relocated") == 0)
		return cmd_relocated(argc - 2, argv + 2, 0);
	if (argc >= 3 && strcmp(argv[1], "load") == 0)
		return cmd_relocated(argc - 2, argv + 2, 1);
	if (argc >= 3 && strcmp(argv[1], "btf-find") == 0)
		return cmd_btf_find(argc - 2, argv + 2);
	if (argc >= 3 && strcmp(argv[1], "trace") == 0)
		return cmd_trace(argc - 2, argv + 2);
	usage();
	return 2;
}
