//! Errors of reading an ELF object into an [`ObjectSpec`](super::ObjectSpec).

/// Why an object could not be read. Each variant names the section (and offset, symbol or
/// map) it is about, so a person can find the bad bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectError {
    /// The bytes are not a 64-bit ELF file, or its headers are damaged.
    #[error("not a valid 64-bit ELF object: {reason}")]
    Elf {
        /// What the ELF reader found wrong.
        reason: String,
    },
    /// The ELF file is for another machine than BPF (`EM_BPF`, 247).
    #[error("ELF machine is {machine}, not BPF (247)")]
    NotBpf {
        /// `e_machine` of the file.
        machine: u16,
    },
    /// A section header or its contents lie outside the file.
    #[error("section {index} '{section}': {reason}")]
    Section {
        /// Section name (empty when the name itself is unreadable).
        section: String,
        /// Section index.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// The object has no symbol table (stripped), or it is damaged.
    #[error("symbol table: {reason}")]
    Symbols {
        /// What is wrong.
        reason: String,
    },
    /// A function symbol does not fit its section or is not instruction-aligned.
    #[error(
        "section '{section}': function '{function}' at offset {offset} (size {size}) {reason}"
    )]
    Function {
        /// Section of the function.
        section: String,
        /// Symbol name.
        function: String,
        /// Byte offset in the section.
        offset: u64,
        /// Byte size.
        size: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A relocation entry cannot be applied.
    #[error("section '{section}': relocation at offset {offset} against '{symbol}': {reason}")]
    Relocation {
        /// The section the relocation applies to.
        section: String,
        /// Byte offset of the relocated instruction within that section.
        offset: u64,
        /// Name of the symbol (or of its section, for section symbols).
        symbol: String,
        /// What is wrong.
        reason: String,
    },
    /// A map definition is malformed.
    #[error("map '{map}' (section '{section}', offset {offset}): {reason}")]
    Map {
        /// Map name.
        map: String,
        /// Section holding the definition.
        section: String,
        /// Byte offset of the definition in the section.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The `license` or `version` section is malformed.
    #[error("section '{section}': {reason}")]
    Metadata {
        /// `license` or `version`.
        section: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An extern symbol cannot be described.
    #[error("extern '{name}': {reason}")]
    Extern {
        /// Symbol name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A program's section name matched no known kind, so it has no program type. Parsing
    /// accepts such programs; this is the error when one is about to be loaded.
    #[error("program '{program}': section '{section}' names no known program type (e.g. \"kprobe/<function>\", \"tp/<category>/<name>\", \"xdp\")")]
    UnknownSection {
        /// The program.
        program: String,
        /// Its section name.
        section: String,
    },
    /// The `.BTF` or `.BTF.ext` section is malformed or inconsistent with the ELF.
    #[error("section '{section}': {reason}")]
    Btf {
        /// `.BTF` or `.BTF.ext`.
        section: &'static str,
        /// What is wrong.
        reason: String,
    },
}
