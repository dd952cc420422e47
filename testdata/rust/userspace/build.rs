fn main() {
    if let Err(err) = bpfkit_build::build_ebpf("../counter") {
        panic!("{err}");
    }
}
