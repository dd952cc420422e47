//! Load every object given on the command line and print what loaded (or why not).

fn main() {
    let mut failed = 0;
    for path in std::env::args().skip(1) {
        let started = std::time::Instant::now();
        let mut loader = bpfkit::loader::Loader::new();
        if let Ok(sizes) = std::env::var("MAX_ENTRIES") {
            for pair in sizes.split(',') {
                if let Some((m, n)) = pair.split_once('=') {
                    loader.max_entries(m, n.parse().unwrap_or(1));
                }
            }
        }
        if let Ok(sizes) = std::env::var("VALUE_SIZE") {
            for pair in sizes.split(',') {
                if let Some((m, n)) = pair.split_once('=') {
                    loader.value_size(m, n.parse().unwrap_or(1));
                }
            }
        }
        match loader.load_file(&path) {
            Ok(obj) => {
                let progs: Vec<String> = obj
                    .programs()
                    .map(|p| format!("{}#{}", p.name(), p.id().unwrap_or(0)))
                    .collect();
                println!(
                    "OK   {path} ({:.1} ms): {} maps, programs {}",
                    started.elapsed().as_secs_f64() * 1e3,
                    obj.maps().count(),
                    progs.join(" ")
                );
            }
            Err(e) => {
                failed += 1;
                let text = e.to_string();
                let short: String = text.lines().take(3).collect::<Vec<_>>().join(" | ");
                let tail: Vec<&str> = text.lines().rev().take(3).collect();
                println!("FAIL {path}: {short} ... {}", tail.join(" | "));
            }
        }
    }
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
