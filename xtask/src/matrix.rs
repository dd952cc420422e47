//! The kernel matrix's results: each VM's suites read from its console (the markers `/init`
//! prints around each command, the SKIP lines and test counts between them), saved per run
//! as `<target dir>/vm-matrix/<arch>-<kernel>.tsv`, and printed as a kernel × suite table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::initramfs::{SUITE_END_MARKER, SUITE_START_MARKER};
use crate::suite::SuiteCommand;
use crate::{io_err, target_dir, XtaskError};

/// How one suite ended in one VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exit status 0.
    Pass,
    /// Another exit status.
    Fail(i32),
    /// The guest never reported its end (the VM died or timed out first).
    NotRun,
}

/// One suite (a cell of the table).
#[derive(Debug, Clone)]
pub struct SuiteResult {
    /// The suite's name.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Tests libtest counted as passed (0 for commands that are not test binaries).
    pub passed: u32,
    /// The `SKIP <test>: <reason>` lines it printed, `SKIP ` removed.
    pub skips: Vec<String>,
}

impl SuiteResult {
    /// The table cell: `pass`, `pass, N skip` (some tests printed SKIP), `skip` (every
    /// passed test printed SKIP), `FAIL`, or `not run`.
    pub fn cell(&self) -> String {
        match self.outcome {
            Outcome::Fail(_) => "FAIL".to_owned(),
            Outcome::NotRun => "not run".to_owned(),
            Outcome::Pass if self.skips.is_empty() => "pass".to_owned(),
            Outcome::Pass if self.skips.len() >= self.passed as usize => "skip".to_owned(),
            Outcome::Pass => format!("pass, {} skip", self.skips.len()),
        }
    }
}

/// One VM of the matrix.
#[derive(Debug, Clone)]
pub struct VmResult {
    /// `x86_64 5.10`.
    pub label: String,
    /// The guest kernel's `uname -r` (the package's version), or empty.
    pub kernel: String,
    /// Wall time of the whole run (download, build, boot, suite).
    pub seconds: u64,
    /// Why the run stopped short (build error, timeout), if it did.
    pub error: Option<String>,
    /// Its suites in run order.
    pub suites: Vec<SuiteResult>,
}

impl VmResult {
    /// Whether every suite passed and nothing stopped the run.
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.suites.iter().all(|s| s.outcome == Outcome::Pass)
    }
}

/// Each command's result from the console `lines`; a command without an end marker is
/// [`Outcome::NotRun`].
pub fn parse(lines: &[String], commands: &[SuiteCommand]) -> Vec<SuiteResult> {
    let mut results: Vec<SuiteResult> = commands
        .iter()
        .map(|c| SuiteResult {
            name: c.name.clone(),
            outcome: Outcome::NotRun,
            passed: 0,
            skips: Vec::new(),
        })
        .collect();
    let mut current: Option<usize> = None;
    for line in lines {
        let line = line.trim();
        if let Some(name) = line.strip_prefix(SUITE_START_MARKER) {
            current = results.iter().position(|r| r.name == name.trim());
            continue;
        }
        if let Some(rest) = line.strip_prefix(SUITE_END_MARKER) {
            let (rc, name) = rest.trim().split_once(' ').unwrap_or((rest.trim(), ""));
            if let Some(r) = results.iter_mut().find(|r| r.name == name) {
                r.outcome = match rc.parse::<i32>() {
                    Ok(0) => Outcome::Pass,
                    Ok(rc) => Outcome::Fail(rc),
                    Err(_) => Outcome::Fail(-1),
                };
            }
            current = None;
            continue;
        }
        let Some(r) = current.and_then(|i| results.get_mut(i)) else {
            continue;
        };
        // With --nocapture a test's output follows "test <name> ... " on the same line.
        if let Some(at) = line.find("SKIP ") {
            r.skips.push(line[at + "SKIP ".len()..].trim().to_owned());
        }
        if let Some(rest) = line.strip_prefix("test result: ") {
            r.passed += rest
                .split(';')
                .find_map(|part| {
                    part.trim()
                        .trim_start_matches("ok. ")
                        .strip_suffix(" passed")
                })
                .and_then(|n| n.trim().rsplit(' ').next()?.parse::<u32>().ok())
                .unwrap_or(0);
        }
    }
    results
}

/// `<target dir>/vm-matrix/<arch>-<kernel>.tsv`.
pub fn result_path(arch: &str, kernel: &str) -> PathBuf {
    target_dir()
        .join("vm-matrix")
        .join(format!("{arch}-{kernel}.tsv"))
}

/// Saves `result` as tab-separated lines: `vm`, one `suite` line each, one `skip` line per
/// SKIP.
pub fn save(result: &VmResult, path: &Path) -> Result<(), XtaskError> {
    let mut s = String::new();
    let clean = |t: &str| t.replace(['\t', '\n'], " ");
    let _ = writeln!(
        s,
        "vm\t{}\t{}\t{}\t{}",
        result.label,
        result.kernel,
        result.seconds,
        clean(result.error.as_deref().unwrap_or(""))
    );
    for suite in &result.suites {
        let outcome = match suite.outcome {
            Outcome::Pass => "pass".to_owned(),
            Outcome::Fail(rc) => format!("fail {rc}"),
            Outcome::NotRun => "notrun".to_owned(),
        };
        let _ = writeln!(
            s,
            "suite\t{}\t{outcome}\t{}",
            clean(&suite.name),
            suite.passed
        );
        for skip in &suite.skips {
            let _ = writeln!(s, "skip\t{}\t{}", clean(&suite.name), clean(skip));
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    }
    std::fs::write(path, s).map_err(io_err("write", path))
}

/// Reads a file [`save`] wrote.
pub fn load(path: &Path) -> Result<VmResult, XtaskError> {
    let text = std::fs::read_to_string(path).map_err(io_err("read", path))?;
    let bad = |line: &str| XtaskError::Missing(format!("{}: bad line '{line}'", path.display()));
    let mut vm: Option<VmResult> = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["vm", label, kernel, seconds, error] => {
                vm = Some(VmResult {
                    label: (*label).to_owned(),
                    kernel: (*kernel).to_owned(),
                    seconds: seconds.parse().map_err(|_| bad(line))?,
                    error: (!error.is_empty()).then(|| (*error).to_owned()),
                    suites: Vec::new(),
                })
            }
            ["suite", name, outcome, passed] => {
                let outcome = match *outcome {
                    "pass" => Outcome::Pass,
                    "notrun" => Outcome::NotRun,
                    other => Outcome::Fail(
                        other
                            .strip_prefix("fail ")
                            .and_then(|rc| rc.parse().ok())
                            .ok_or_else(|| bad(line))?,
                    ),
                };
                vm.as_mut()
                    .ok_or_else(|| bad(line))?
                    .suites
                    .push(SuiteResult {
                        name: (*name).to_owned(),
                        outcome,
                        passed: passed.parse().map_err(|_| bad(line))?,
                        skips: Vec::new(),
                    });
            }
            ["skip", name, reason] => {
                let suite = vm
                    .as_mut()
                    .and_then(|vm| vm.suites.iter_mut().find(|s| s.name == *name))
                    .ok_or_else(|| bad(line))?;
                suite.skips.push((*reason).to_owned());
            }
            _ => return Err(bad(line)),
        }
    }
    vm.ok_or_else(|| XtaskError::Missing(format!("{}: no 'vm' line", path.display())))
}

/// The kernel × suite table (suites as rows, VMs as columns), each VM's time and kernel,
/// then every SKIP reason by VM.
pub fn table(results: &[VmResult]) -> String {
    let mut suites: Vec<&str> = Vec::new();
    for vm in results {
        for suite in &vm.suites {
            if !suites.contains(&suite.name.as_str()) {
                suites.push(&suite.name);
            }
        }
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header = vec!["suite".to_owned()];
    header.extend(results.iter().map(|vm| vm.label.clone()));
    rows.push(header);
    for name in &suites {
        let mut row = vec![(*name).to_owned()];
        for vm in results {
            row.push(
                vm.suites
                    .iter()
                    .find(|s| s.name == *name)
                    .map_or_else(|| "-".to_owned(), SuiteResult::cell),
            );
        }
        rows.push(row);
    }
    let mut kernel = vec!["(kernel)".to_owned()];
    kernel.extend(results.iter().map(|vm| {
        if vm.kernel.is_empty() {
            "?".to_owned()
        } else {
            vm.kernel.clone()
        }
    }));
    rows.push(kernel);
    let mut time = vec!["(VM run, s)".to_owned()];
    time.extend(results.iter().map(|vm| vm.seconds.to_string()));
    rows.push(time);

    let widths: Vec<usize> = (0..rows[0].len())
        .map(|col| rows.iter().map(|r| r[col].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::from(
        "kernel matrix (pass; pass, N skip: N tests printed SKIP; skip: every test did; \
         FAIL; not run: the VM stopped first; -: not chosen for that kernel)\n",
    );
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            let _ = writeln!(out, "|-{}-|", rule.join("-|-"));
        }
    }
    for vm in results {
        if let Some(error) = &vm.error {
            let _ = writeln!(out, "{}: stopped: {error}", vm.label);
        }
        for suite in &vm.suites {
            for skip in &suite.skips {
                let _ = writeln!(out, "{} {}: SKIP {skip}", vm.label, suite.name);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(name: &str) -> SuiteCommand {
        SuiteCommand {
            name: name.to_owned(),
            line: format!("/tests/{name}"),
        }
    }

    #[test]
    fn console_markers_give_each_suite_its_outcome_skips_and_test_count() {
        let console: Vec<String> = [
            "noise",
            "BPFKIT-VM-SUITE-START: a",
            "test x ... SKIP x: no ring buffer (needs 5.8)",
            "ok",
            "test y ... ok",
            "test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out",
            "BPFKIT-VM-SUITE-END: 0 a",
            "BPFKIT-VM-SUITE-START: b c",
            "test result: FAILED. 3 passed; 1 failed; 0 ignored",
            "BPFKIT-VM-SUITE-END: 101 b c",
            "BPFKIT-VM-SUITE-START: d",
            "test d ... SKIP d: no tcx",
            "test result: ok. 1 passed; 0 failed",
            "BPFKIT-VM-SUITE-END: 0 d",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let commands = [command("a"), command("b c"), command("d"), command("e")];
        let results = parse(&console, &commands);
        assert_eq!(results[0].outcome, Outcome::Pass);
        assert_eq!(results[0].passed, 2);
        assert_eq!(results[0].skips, ["x: no ring buffer (needs 5.8)"]);
        assert_eq!(results[0].cell(), "pass, 1 skip");
        assert_eq!(results[1].outcome, Outcome::Fail(101));
        assert_eq!(results[1].passed, 3);
        assert_eq!(results[1].cell(), "FAIL");
        assert_eq!(results[2].cell(), "skip");
        assert_eq!(results[3].cell(), "not run");
    }

    #[test]
    fn a_saved_result_loads_back_and_prints_in_the_table() {
        let vm = VmResult {
            label: "x86_64 5.10".to_owned(),
            kernel: "5.10.0-46-amd64".to_owned(),
            seconds: 201,
            error: None,
            suites: vec![SuiteResult {
                name: "readers_user_ring_buf".to_owned(),
                outcome: Outcome::Pass,
                passed: 1,
                skips: vec!["t: user ring buffer maps (needs 6.1)".to_owned()],
            }],
        };
        let dir = std::env::temp_dir().join(format!("xtask-matrix-{}", std::process::id()));
        let path = dir.join("x.tsv");
        save(&vm, &path).unwrap();
        let back = load(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(back.label, vm.label);
        assert_eq!(back.seconds, 201);
        assert_eq!(back.suites[0].skips, vm.suites[0].skips);
        let table = table(&[back]);
        assert!(table.contains("| readers_user_ring_buf | skip "), "{table}");
        assert!(table.contains("| (VM run, s)           | 201 "), "{table}");
        assert!(table.contains(
            "x86_64 5.10 readers_user_ring_buf: SKIP t: user ring buffer maps (needs 6.1)"
        ));
    }
}
