//! Command-line definitions, flag for flag compatible with runc. No logic here.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub const DEFAULT_ROOT: &str = "/run/berth";

/// Most fds `--preserve-fds` (or LISTEN_FDS) may pass on: the kernel's default
/// fs.nr_open. The stages build the list of fds to keep, so an unbounded count
/// (u32::MAX) would be gigabytes of memory and overflow the fd arithmetic.
pub const MAX_PASSED_FDS: u32 = 1 << 20;

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    about = "berth: an OCI runtime-spec (v1.3) container runtime",
    long_about = "berth runs containers from OCI bundles (a directory holding config.json and a root \
filesystem), with the same verbs and flags as runc.\n\n\
Typical lifecycle:\n  berth spec                     # write a default config.json in the current dir\n  \
berth create -b BUNDLE ID       # set the container up; its process waits\n  \
berth start ID                  # run the process\n  \
berth state ID                  # print the state JSON\n  \
berth kill ID [SIGNAL]          # signal it (default SIGTERM)\n  \
berth delete ID                 # remove what create made\nor all at once: berth run -b BUNDLE ID",
    disable_version_flag = true
)]
pub struct Cli {
    /// Directory for container state (one subdirectory per container)
    #[arg(long, global = true, default_value = DEFAULT_ROOT, value_name = "DIR")]
    pub root: PathBuf,

    /// Append log lines (and errors) to FILE
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Format of log lines
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log debug messages too
    #[arg(long, global = true)]
    pub debug: bool,

    /// Manage cgroups through systemd (not supported yet)
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,

    /// Print the version
    #[arg(short = 'v', long = "version")]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

// Parsed once per process: the size of the biggest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container from a bundle; its process waits for `start`
    Create(CreateArgs),
    /// Run the user process of a created container
    Start {
        /// Container id
        id: String,
    },
    /// Create and start a container, then wait for it (unless --detach)
    Run(RunArgs),
    /// Print the state of a container as JSON
    State {
        /// Container id
        id: String,
    },
    /// Send a signal to the container's init (default SIGTERM)
    Kill {
        /// Send the signal to every process in the container
        #[arg(short, long)]
        all: bool,
        /// Container id
        id: String,
        /// Signal name (TERM, SIGTERM) or number
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a stopped container and everything create made for it
    Delete {
        /// Kill the container first if it is still running; succeed for an unknown id
        #[arg(short, long)]
        force: bool,
        /// Container id
        id: String,
    },
    /// List the containers under --root
    #[command(alias = "ls")]
    List {
        /// Output format
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// Print only the ids
        #[arg(short, long)]
        quiet: bool,
    },
    /// Run a new process inside a running container
    Exec(ExecArgs),
    /// Change the resource limits of a running container
    Update(UpdateArgs),
    /// Freeze every process of the container
    Pause {
        /// Container id
        id: String,
    },
    /// Thaw a paused container
    Resume {
        /// Container id
        id: String,
    },
    /// List the processes of the container
    Ps {
        /// Output format: table (runs ps on the host) or json (an array of host pids)
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// Container id
        id: String,
        /// Arguments for ps (default -ef)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Print resource usage and OOM events of a container as JSON lines
    Events {
        /// Print one stats event and exit
        #[arg(long)]
        stats: bool,
        /// Seconds between stats events (e.g. 5 or 5s)
        #[arg(long, default_value = "5s")]
        interval: String,
        /// Container id
        id: String,
    },
    /// Print what this build of berth supports (features.md) as JSON
    Features,
    /// Write a default config.json into the bundle directory
    Spec {
        /// Bundle directory to write config.json into
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        /// Write a spec for a rootless container (user namespace, no cgroups)
        #[arg(long)]
        rootless: bool,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Path to the bundle directory (holding config.json)
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container's host pid to this file (digits, no newline)
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to receive the pty master when process.terminal is true
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root (for ramfs roots)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra fds (3..3+N) to the container process
    #[arg(long = "preserve-fds", default_value_t = 0, value_name = "N",
          value_parser = clap::value_parser!(u32).range(..=i64::from(MAX_PASSED_FDS)))]
    pub preserve_fds: u32,
    /// Accepted for runc compatibility: berth never copies its binary
    #[arg(long = "no-mount-fallback", hide = true)]
    pub no_mount_fallback: bool,
    /// Container id
    pub id: String,
}

/// `exec`: runc's flags, or a whole process.json with --process.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// process.json (an OCI Process) to run instead of COMMAND and the flags below
    #[arg(short = 'p', long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-terminal (needs --console-socket when detached)
    #[arg(short, long)]
    pub tty: bool,
    /// Working directory inside the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Extra environment variables (NAME=value), repeatable
    #[arg(short, long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// UID[:GID] to run as (numeric)
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional group ids, repeatable
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (bounding, effective, permitted; never inheritable), repeatable
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// AppArmor profile (this host has no LSM: an error if set)
    #[arg(long)]
    pub apparmor: Option<String>,
    /// SELinux process label (this host has no LSM: an error if set)
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Return once the process started; do not wait for it
    #[arg(short, long)]
    pub detach: bool,
    /// Write the process's host pid to this file
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to receive the pty master when --tty is given
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Pass N extra fds (3..3+N) to the process
    #[arg(long = "preserve-fds", default_value_t = 0, value_name = "N",
          value_parser = clap::value_parser!(u32).range(..=i64::from(MAX_PASSED_FDS)))]
    pub preserve_fds: u32,
    /// Run in this sub-cgroup of the container's cgroup (relative path)
    #[arg(long)]
    pub cgroup: Option<String>,
    /// Allow exec into a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Container id
    pub id: String,
    /// Command and arguments (unless --process)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `update`: runc's flags, or a whole LinuxResources JSON with -r.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// File with LinuxResources JSON to apply, or - for stdin
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// Block IO weight (10-1000)
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period in microseconds
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    /// CPU realtime period in microseconds
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in microseconds
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs allowed (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Kernel memory limit (deprecated by the kernel)
    #[arg(long = "kernel-memory")]
    pub kernel_memory: Option<String>,
    /// Kernel TCP memory limit (deprecated by the kernel)
    #[arg(long = "kernel-memory-tcp")]
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit (bytes, or with a k/m/g suffix; -1 for none)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1 for unlimited swap)
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids (-1 or 0 for none)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Container id
    pub id: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return after start instead of waiting for the container
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits (do not delete)
    #[arg(long)]
    pub keep: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn runc_style_invocations_parse() {
        let c = Cli::try_parse_from([
            "berth",
            "--root",
            "/r",
            "--log",
            "/l",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/p",
            "--console-socket",
            "/s",
            "--preserve-fds",
            "1",
            "id1",
        ])
        .unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
        let Some(Command::Create(a)) = c.command else {
            panic!("not create")
        };
        assert_eq!((a.id.as_str(), a.preserve_fds), ("id1", 1));
        let c = Cli::try_parse_from(["berth", "kill", "--all", "x", "9"]).unwrap();
        assert!(
            matches!(c.command, Some(Command::Kill { all: true, ref signal, .. }) if signal == "9")
        );
        let c = Cli::try_parse_from(["berth", "delete", "-f", "x"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Command::Delete { force: true, .. })
        ));
        assert!(Cli::try_parse_from(["berth", "spec", "--rootless"]).is_ok());
    }

    /// An unbounded --preserve-fds overflowed the fd arithmetic (3 + u32::MAX, a panic
    /// in debug builds, stdio closed in release) and sized a Vec by it.
    #[test]
    fn preserve_fds_is_bounded() {
        let max = MAX_PASSED_FDS.to_string();
        let over = (MAX_PASSED_FDS + 1).to_string();
        for verb in ["create", "run", "exec"] {
            let ok = Cli::try_parse_from(["berth", verb, "--preserve-fds", &max, "x"]);
            assert!(ok.is_ok(), "{verb}: {ok:?}");
            for bad in [over.as_str(), "4294967295", "-1"] {
                let r = Cli::try_parse_from(["berth", verb, "--preserve-fds", bad, "x"]);
                assert!(r.is_err(), "{verb} --preserve-fds {bad} accepted");
            }
        }
    }
}
