use crate::cli::CreateArgs;
use crate::error::Result;
use crate::id::ContainerId;
use crate::init::parent::{self, CreateOpts, Created};
use crate::store::Store;
use std::os::unix::net::UnixStream;

/// LISTEN_FDS from berth's own environment (systemd socket activation), if it is ours.
pub fn listen_fds() -> u32 {
    listen_fds_of(
        std::env::var("LISTEN_PID").ok().as_deref(),
        std::env::var("LISTEN_FDS").ok().as_deref(),
        std::process::id(),
    )
}

/// The socket-activation fd count that `LISTEN_PID`/`LISTEN_FDS` give process `me`:
/// 0 unless the variables are meant for it, and 0 for a count above
/// `MAX_PASSED_FDS` (no activation passes that many; the count sizes fd lists).
fn listen_fds_of(pid: Option<&str>, fds: Option<&str>, me: u32) -> u32 {
    let pid_ok = pid
        .and_then(|p| p.parse::<i64>().ok())
        .is_none_or(|p| p == i64::from(me));
    if !pid_ok {
        return 0;
    }
    fds.and_then(|n| n.parse().ok())
        .filter(|&n| n <= crate::cli::MAX_PASSED_FDS)
        .unwrap_or(0)
}

pub fn create(store: &Store, args: &CreateArgs) -> Result<Created> {
    create_foreground(store, args, false).map(|(c, _)| c)
}

/// `create`, for a foreground `run` when `foreground`: with process.terminal and no
/// --console-socket, the init sends the pty master on an internal socket whose other
/// end is returned (berth proxies the terminal, as runc does).
pub fn create_foreground(
    store: &Store,
    args: &CreateArgs,
    foreground: bool,
) -> Result<(Created, Option<UnixStream>)> {
    // Validate everything that needs no side effect before --root is touched.
    let id = ContainerId::parse(&args.id)?;
    let bundle = crate::spec::load::load_bundle(&args.bundle)?;
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let (ours, theirs) = if foreground && terminal && args.console_socket.is_none() {
        let (a, b) = super::tty::socket_pair()?;
        (Some(a), Some(b))
    } else {
        (None, None)
    };
    let created = parent::create(
        store,
        CreateOpts {
            id,
            bundle,
            pid_file: args.pid_file.clone(),
            console_socket: args.console_socket.clone(),
            console_stream: theirs,
            no_pivot: args.no_pivot,
            no_new_keyring: args.no_new_keyring,
            preserve_fds: args.preserve_fds,
            listen_fds: listen_fds(),
        },
    )?;
    Ok((created, ours))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LISTEN_FDS=4294967295 summed with --preserve-fds overflowed in the stages and
    /// sized a Vec of fds to keep; a count above MAX_PASSED_FDS is not ours.
    #[test]
    fn listen_fds_are_bounded_and_ours() {
        assert_eq!(listen_fds_of(None, None, 7), 0);
        assert_eq!(listen_fds_of(Some("7"), Some("2"), 7), 2);
        assert_eq!(listen_fds_of(None, Some("2"), 7), 2);
        assert_eq!(listen_fds_of(Some("8"), Some("2"), 7), 0);
        assert_eq!(listen_fds_of(Some("-7"), Some("2"), 7), 0);
        assert_eq!(listen_fds_of(Some("7"), Some("4294967295"), 7), 0);
        assert_eq!(listen_fds_of(Some("7"), Some("-1"), 7), 0);
        let max = crate::cli::MAX_PASSED_FDS.to_string();
        assert_eq!(
            listen_fds_of(Some("7"), Some(&max), 7),
            crate::cli::MAX_PASSED_FDS
        );
    }
}
