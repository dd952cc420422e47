//! Gathering LLVM bitcode from the linker's inputs: raw bitcode objects and `ar` archives (rlibs).
//!
//! On the bpfel route every rlib member is bitcode (`core` built by `-Z build-std`). On the
//! donor route the user's crates are bitcode (`-C linker-plugin-lto`) while rustup's
//! prebuilt `core`/`compiler_builtins` members are donor ELF objects carrying their
//! bitcode in a `.llvmbc` section; that bitcode is taken as a library (linked only where
//! needed).

use std::path::{Path, PathBuf};

use object::read::archive::ArchiveFile;
use object::{Object, ObjectSection};

use super::LinkError;

/// The magic of a raw LLVM bitcode file: `BC 0xC0DE`.
pub const BITCODE_MAGIC: [u8; 4] = [b'B', b'C', 0xC0, 0xDE];
/// The magic of an LLVM bitcode wrapper header.
pub const BITCODE_WRAPPER_MAGIC: [u8; 4] = [0xDE, 0xC0, 0x17, 0x0B];
const ELF_MAGIC: [u8; 4] = [0x7f, b'E', b'L', b'F'];
const AR_MAGIC: &[u8] = b"!<arch>\n";

/// True when `bytes` start like LLVM bitcode.
pub fn is_bitcode(bytes: &[u8]) -> bool {
    bytes.starts_with(&BITCODE_MAGIC) || bytes.starts_with(&BITCODE_WRAPPER_MAGIC)
}

/// What was found in the inputs.
#[derive(Debug, Default)]
pub struct Bitcode {
    /// Bitcode files to hand to `llvm-link`: inputs as they are, archive members extracted.
    pub files: Vec<PathBuf>,
    /// Bitcode embedded (`.llvmbc`) in native archive members (rustup's prebuilt `core`):
    /// linked with `--only-needed`.
    pub libraries: Vec<PathBuf>,
    /// ELF objects that were skipped (rustc's `symbols.o`).
    pub skipped_elf: Vec<PathBuf>,
}

/// Collects the bitcode of every input; archive members are written under `scratch`.
///
/// Archive members that are not bitcode (`lib.rmeta`) are skipped; a plain input that is
/// neither bitcode, an ELF object nor an archive is an error naming it.
pub fn collect(inputs: &[PathBuf], scratch: &Path) -> Result<Bitcode, LinkError> {
    let mut found = Bitcode::default();
    for (index, input) in inputs.iter().enumerate() {
        let bytes = std::fs::read(input).map_err(|source| LinkError::Io {
            action: "read the input",
            path: input.clone(),
            source,
        })?;
        if is_bitcode(&bytes) {
            found.files.push(input.clone());
        } else if bytes.starts_with(&ELF_MAGIC) {
            found.skipped_elf.push(input.clone());
        } else if bytes.starts_with(AR_MAGIC) {
            extract_archive(input, &bytes, index, scratch, &mut found)?;
        } else {
            return Err(LinkError::UnknownInput {
                path: input.clone(),
            });
        }
    }
    Ok(found)
}

fn extract_archive(
    path: &Path,
    bytes: &[u8],
    index: usize,
    scratch: &Path,
    found: &mut Bitcode,
) -> Result<(), LinkError> {
    let bad = |reason: String| LinkError::BadArchive {
        path: path.to_path_buf(),
        reason,
    };
    let archive = ArchiveFile::parse(bytes).map_err(|e| bad(e.to_string()))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "archive".into());
    for (member_index, member) in archive.members().enumerate() {
        let member = member.map_err(|e| bad(e.to_string()))?;
        let data = member.data(bytes).map_err(|e| {
            bad(format!(
                "member `{}`: {e}",
                String::from_utf8_lossy(member.name())
            ))
        })?;
        let embedded;
        let (code, out) = if is_bitcode(data) {
            (data, &mut found.files)
        } else if let Some(code) = embedded_bitcode(data) {
            embedded = code;
            (embedded.as_slice(), &mut found.libraries)
        } else {
            continue;
        };
        let file = scratch.join(format!("{index}-{stem}-{member_index}.bc"));
        std::fs::write(&file, code).map_err(|source| LinkError::Io {
            action: "write an archive member",
            path: file.clone(),
            source,
        })?;
        out.push(file);
    }
    Ok(())
}

/// The `.llvmbc` section of an ELF object (rustc's embedded bitcode), when it holds bitcode.
///
/// Archive members start at any even offset while the ELF parser reads headers in place, so
/// the object is first copied to 8-byte aligned memory.
pub fn embedded_bitcode(object: &[u8]) -> Option<Vec<u8>> {
    if !object.starts_with(&ELF_MAGIC) {
        return None;
    }
    let mut words = vec![0u64; object.len().div_ceil(8)];
    object::pod::bytes_of_slice_mut(&mut words)[..object.len()].copy_from_slice(object);
    let aligned = &object::pod::bytes_of_slice(&words)[..object.len()];
    let file = object::File::parse(aligned).ok()?;
    let data = file.section_by_name(".llvmbc")?.data().ok()?;
    is_bitcode(data).then(|| data.to_vec())
}

/// Finds `-l<name>` in the `-L` directories (`lib<name>.rlib`, `lib<name>.a`).
pub fn find_library(name: &str, dirs: &[PathBuf]) -> Result<PathBuf, LinkError> {
    for dir in dirs {
        for candidate in [format!("lib{name}.rlib"), format!("lib{name}.a")] {
            let path = dir.join(candidate);
            if path.is_file() {
                return Ok(path);
            }
        }
    }
    Err(LinkError::LibraryNotFound {
        name: name.to_string(),
        dirs: dirs.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ar_member(name: &str, data: &[u8]) -> Vec<u8> {
        let mut out = format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            name,
            0,
            0,
            0,
            644,
            data.len()
        )
        .into_bytes();
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
        out
    }

    #[test]
    fn keeps_only_bitcode_members_of_an_archive() {
        let dir = std::env::temp_dir().join(format!("bpfkit-inputs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ar = AR_MAGIC.to_vec();
        ar.extend(ar_member("lib.rmeta/", b"rust metadata"));
        let mut code = BITCODE_MAGIC.to_vec();
        code.extend_from_slice(b"module");
        ar.extend(ar_member("core.rcgu.o/", &code));
        let rlib = dir.join("libcore.rlib");
        std::fs::write(&rlib, &ar).unwrap();
        let elf = dir.join("symbols.o");
        std::fs::write(&elf, b"\x7fELF....").unwrap();

        let found = collect(&[elf.clone(), rlib], &dir).unwrap();
        assert_eq!(found.skipped_elf, [elf]);
        assert_eq!(found.files.len(), 1);
        assert_eq!(std::fs::read(&found.files[0]).unwrap(), code);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_an_input_that_is_neither_bitcode_nor_archive() {
        let dir = std::env::temp_dir().join(format!("bpfkit-inputs-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = dir.join("notes.txt");
        std::fs::write(&text, b"hello").unwrap();
        let err = collect(std::slice::from_ref(&text), &dir).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "input {} is neither LLVM bitcode, an ELF object nor an ar archive",
                text.display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
