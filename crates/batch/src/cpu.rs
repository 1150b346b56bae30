//! The process's CPU time (user + system, every thread, finished ones
//! included) from `/proc/self/stat`, in seconds; `None` elsewhere. Linux
//! reports it in USER_HZ ticks, 100 a second on every architecture it
//! exports to user space (`sysconf(_SC_CLK_TCK)` would need `unsafe`,
//! which the workspace forbids).

const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds this process has used so far.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat(&stat)
}

fn parse_stat(stat: &str) -> Option<f64> {
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the line (utime, stime); `after` starts at 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime() {
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1 2 3";
        assert_eq!(parse_stat(line), Some(3.0));
        if cfg!(target_os = "linux") {
            assert!(process_cpu_seconds().is_some());
        }
    }
}
