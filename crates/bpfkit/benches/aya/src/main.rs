//! Aya side of benches/run.sh: the same object load and map operations as bench.rs.
//!   aya-bench load OBJ [MAP=MAX_ENTRIES,VALUE_SIZE ...]
//!   aya-bench maps N   (hash update/lookup/delete through a map created by a tiny object)

use std::time::Instant;

fn load(path: &str, sizes: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path)?;
    let mut loader = aya::EbpfLoader::new();
    for s in sizes {
        if let Some((name, rest)) = s.split_once('=') {
            if let Some((max, _)) = rest.split_once(',') {
                loader.set_max_entries(name, max.parse()?);
            }
        }
    }
    let mut ebpf = loader.load(&bytes)?;
    let names: Vec<String> = ebpf.programs().map(|(n, _)| n.to_owned()).collect();
    for name in names {
        let prog = ebpf.program_mut(&name).ok_or("program")?;
        match prog {
            aya::programs::Program::TracePoint(p) => p.load()?,
            aya::programs::Program::RawTracePoint(p) => p.load()?,
            aya::programs::Program::KProbe(p) => p.load()?,
            other => return Err(format!("{name}: {:?} not handled", other.prog_type()).into()),
        }
    }
    Ok(())
}

fn maps(obj: &str, n: u32) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(obj)?;
    let mut ebpf = aya::Ebpf::load(&bytes)?;
    let mut map: aya::maps::HashMap<_, u32, u64> =
        aya::maps::HashMap::try_from(ebpf.map_mut("bench").ok_or("map 'bench'")?)?;
    let t = Instant::now();
    for i in 0..n {
        map.insert(i, u64::from(i) * 3, 0)?;
    }
    let update = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let mut sum = 0u64;
    for i in 0..n {
        sum += map.get(&i, 0)?;
    }
    let lookup = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    for i in 0..n {
        map.remove(&i)?;
    }
    let delete = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "aya     maps n={n}: update {update:.1} ms, lookup {lookup:.1} ms, delete {delete:.1} ms, \
         update_batch n/a, lookup_batch n/a (sum {sum})"
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("load") => load(args.get(2).ok_or("OBJ")?, &args[3..]),
        Some("maps") => maps(args.get(2).ok_or("OBJ")?, args.get(3).ok_or("N")?.parse()?),
        _ => Err("usage: aya-bench load OBJ | aya-bench maps OBJ N".into()),
    }
}
