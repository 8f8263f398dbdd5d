//! Container status, its transition rules, and the state record kept under `--root`.
//! Pure: the status of a live container is derived from facts the caller gathers.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub const OCI_VERSION: &str = "1.3.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }

    /// What is known about the init process, turned into a status (runtime.md "State").
    pub fn derive(facts: ProcessFacts) -> Status {
        match facts {
            ProcessFacts::NotYetReported => Status::Creating,
            ProcessFacts::Gone => Status::Stopped,
            ProcessFacts::Alive {
                waiting_for_start,
                frozen,
            } => {
                if frozen {
                    Status::Paused
                } else if waiting_for_start {
                    Status::Created
                } else {
                    Status::Running
                }
            }
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the runtime observed about a container's init.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessFacts {
    /// create has not finished (no pid recorded yet).
    NotYetReported,
    /// The recorded pid is dead, a zombie, or now belongs to another process.
    Gone,
    Alive {
        /// The exec fifo still exists: start has not been called.
        waiting_for_start: bool,
        frozen: bool,
    },
}

/// The operations whose legality depends on the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Start,
    Kill,
    Delete,
    ForceDelete,
    Pause,
    Resume,
    Exec,
}

/// The transition table: may `op` be applied in `status`? (runtime.md "Operations")
pub fn allowed(op: Op, status: Status) -> bool {
    use Status::*;
    match op {
        Op::Start => status == Created,
        // Signalling a paused container is allowed: the signal is delivered on resume.
        Op::Kill => matches!(status, Created | Running | Paused),
        Op::Delete => status == Stopped,
        Op::ForceDelete => true,
        Op::Pause => status == Running,
        Op::Resume => status == Paused,
        Op::Exec => matches!(status, Created | Running),
    }
}

/// What berth keeps in `<root>/<id>/state.json`. The first fields are the
/// runtime.md state; the rest are berth's own bookkeeping.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateRecord {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Start time of the init in clock ticks since boot (/proc/PID/stat field 22), to
    /// tell the init from a later process that reuses its pid.
    #[serde(rename = "berthInitStartTime", default)]
    pub init_start_time: u64,
    /// Cgroup path of the container (relative to each hierarchy's root).
    #[serde(rename = "berthCgroupPath", default)]
    pub cgroup_path: String,
    /// process.terminal was true.
    #[serde(rename = "berthUseTerminal", default)]
    pub terminal: bool,
}

/// The runtime.md state JSON printed by `state` and given to hooks.
#[derive(Debug, Clone, Serialize)]
pub struct PublicState<'a> {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'a str,
    pub id: &'a str,
    pub pid: i32,
    pub status: Status,
    pub bundle: &'a PathBuf,
    pub rootfs: &'a PathBuf,
    pub created: &'a str,
    pub owner: &'a str,
    pub annotations: &'a BTreeMap<String, String>,
}

impl StateRecord {
    /// The public state for `status`; pid is 0 once stopped.
    pub fn public(&self, status: Status) -> PublicState<'_> {
        PublicState {
            oci_version: &self.oci_version,
            id: &self.id,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            owner: &self.owner,
            annotations: &self.annotations,
        }
    }
}

/// Format seconds+nanoseconds since the epoch as RFC 3339 UTC
/// (`2026-11-24T01:23:10.123456789Z`), as runc's state does.
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Now, as RFC 3339.
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_from_facts() {
        assert_eq!(
            Status::derive(ProcessFacts::NotYetReported),
            Status::Creating
        );
        assert_eq!(Status::derive(ProcessFacts::Gone), Status::Stopped);
        let alive = |w, f| ProcessFacts::Alive {
            waiting_for_start: w,
            frozen: f,
        };
        assert_eq!(Status::derive(alive(true, false)), Status::Created);
        assert_eq!(Status::derive(alive(false, false)), Status::Running);
        assert_eq!(Status::derive(alive(false, true)), Status::Paused);
        assert_eq!(Status::derive(alive(true, true)), Status::Paused);
    }

    #[test]
    fn transitions_follow_runtime_md() {
        use Status::*;
        let all = [Creating, Created, Running, Paused, Stopped];
        for s in all {
            assert_eq!(allowed(Op::Start, s), s == Created, "start in {s}");
            assert_eq!(
                allowed(Op::Kill, s),
                matches!(s, Created | Running | Paused),
                "kill in {s}"
            );
            assert_eq!(allowed(Op::Delete, s), s == Stopped, "delete in {s}");
            assert!(allowed(Op::ForceDelete, s));
        }
        assert!(allowed(Op::Pause, Running) && !allowed(Op::Pause, Created));
        assert!(allowed(Op::Resume, Paused) && !allowed(Op::Resume, Running));
    }

    #[test]
    fn stopped_state_has_pid_zero() {
        let rec = StateRecord {
            oci_version: OCI_VERSION.into(),
            id: "a".into(),
            pid: 42,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: rfc3339(0, 0),
            owner: "root".into(),
            annotations: BTreeMap::new(),
            init_start_time: 7,
            cgroup_path: "/berth/a".into(),
            terminal: false,
        };
        let v = serde_json::to_value(rec.public(Status::Stopped)).unwrap();
        assert_eq!(v["pid"], 0);
        assert_eq!(v["status"], "stopped");
        let v = serde_json::to_value(rec.public(Status::Running)).unwrap();
        assert_eq!(v["pid"], 42);
        assert_eq!(v["ociVersion"], "1.3.0");
        assert!(v.get("berthInitStartTime").is_none());
    }

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(rfc3339(1_795_483_390, 0), "2026-11-24T01:23:10.000000000Z");
    }
}
