//! Prints facts about the embedded counter object: its length, its address modulo 32 and
//! whether it starts with the ELF magic.

static COUNTER: &[u8] = bpfkit_build::include_ebpf!("counter");

fn main() {
    println!(
        "{} {} {}",
        COUNTER.len(),
        COUNTER.as_ptr() as usize % 32,
        COUNTER.starts_with(b"\x7fELF")
    );
}
