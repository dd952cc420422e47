//! BPF instructions: decoding, encoding and a disassembler matching the verifier log.
