#!/bin/sh
# Regenerates helper_names.rs (BPF helper id -> kernel name) from linux/bpf.h's
# __BPF_FUNC_MAPPER. Usage: gen-helper-names.sh [path/to/linux/bpf.h] > helper_names.rs
#
# Both spellings of the mapper are understood: the pre-6.2 `FN(name)` form (the id is the
# position in the list) and the newer `FN(name, id, ##ctx)` form. The helper list is frozen
# upstream at id 211 (new functionality is added as kfuncs); when the given header is older
# than that, the helpers appended after it are added from this list so the table always
# covers every helper a current kernel knows.
set -eu
header=${1:-/usr/include/linux/bpf.h}
awk '
    BEGIN { next_id = 0 }
    /#define _*BPF_FUNC_MAPPER\(FN/ { inside = 1; next }
    inside && /FN\(/ {
        line = $0
        sub(/.*FN\(/, "", line)
        sub(/\).*/, "", line)
        n = split(line, parts, ",")
        name = parts[1]; gsub(/[ \t]/, "", name)
        if (n >= 2 && parts[2] ~ /[0-9]/) { id = parts[2] + 0 } else { id = next_id }
        names[id] = name
        if (id + 1 > next_id) next_id = id + 1
        next
    }
    inside && /\/\* \*\/|^[^\t ]/ { if (next_id > 0) inside = 0 }
    END {
        later[210] = "cgrp_storage_get"
        later[211] = "cgrp_storage_delete"
        for (id = next_id; id <= 211; id++) { names[id] = later[id] }
        if (next_id < 212) next_id = 212
        print "//! BPF helper function names by id, generated from linux/bpf.h'"'"'s __BPF_FUNC_MAPPER."
        print "//!"
        print "//! Do not edit: regenerate with `sh gen-helper-names.sh [path/to/bpf.h] > helper_names.rs`."
        print ""
        print "/// Kernel names of the BPF helpers, indexed by helper id (`BPF_FUNC_*`), each with"
        print "/// the `bpf_` prefix the verifier log prints. Id 0 (`unspec`) is not a callable helper."
        printf "pub const HELPER_NAMES: [&str; %d] = [\n", next_id
        for (id = 0; id < next_id; id++) { printf "    \"bpf_%s\",\n", names[id] }
        print "];"
    }
' "$header"
