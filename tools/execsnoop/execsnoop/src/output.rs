//! Printing execs: aligned columns like libbpf-tools' execsnoop, or one JSON object a line.

use crate::event::Exec;

/// The column header printed before text output.
pub const HEADER: &str = "PCOMM            PID     PPID    UID     RET ARGS";

/// One line of text output: command, pid, ppid, uid, return value, arguments.
pub fn text_line(exec: &Exec) -> String {
    format!(
        "{:<16} {:<7} {:<7} {:<7} {:>3} {}",
        exec.comm,
        exec.pid,
        exec.ppid,
        exec.uid,
        exec.retval,
        exec.args.join(" ")
    )
}

/// One JSON line: `{"pid":…,"ppid":…,"uid":…,"ret":…,"comm":"…","args":[…]}`.
pub fn json_line(exec: &Exec) -> String {
    serde_json::json!({
        "pid": exec.pid,
        "ppid": exec.ppid,
        "uid": exec.uid,
        "ret": exec.retval,
        "comm": exec.comm,
        "args": exec.args,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec() -> Exec {
        Exec {
            pid: 812,
            ppid: 1,
            uid: 0,
            retval: 0,
            comm: "ls".into(),
            args: vec!["/bin/ls".into(), "-l".into(), "a \"b\"".into()],
        }
    }

    #[test]
    fn text_line_has_aligned_columns() {
        assert_eq!(
            text_line(&exec()),
            "ls               812     1       0         0 /bin/ls -l a \"b\""
        );
        assert_eq!(HEADER.find("PID"), text_line(&exec()).find("812"));
    }

    #[test]
    fn json_line_round_trips() {
        let value: serde_json::Value = serde_json::from_str(&json_line(&exec())).unwrap();
        assert_eq!(value["pid"], 812);
        assert_eq!(value["ppid"], 1);
        assert_eq!(value["uid"], 0);
        assert_eq!(value["ret"], 0);
        assert_eq!(value["comm"], "ls");
        assert_eq!(value["args"][2], "a \"b\"");
    }
}
