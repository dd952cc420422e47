//! ELF objects → `ObjectSpec`: programs, maps, data sections, externs and relocations.
