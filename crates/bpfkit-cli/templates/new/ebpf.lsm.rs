
/// The `bprm_check_security` LSM hook: every exec asks it. Returning 0 allows the exec; a
/// negative errno (e.g. -1, EPERM) would deny it.
#[lsm(hook = "bprm_check_security")]
fn {{program}}(_ctx: LsmContext) -> i32 {
    send(helpers::current_uid());
    0
}

bpfkit_ebpf::license!("GPL");
