use crate::cli::CreateArgs;
use crate::error::Result;
use crate::id::ContainerId;
use crate::init::parent::{self, CreateOpts, Created};
use crate::store::Store;

/// LISTEN_FDS from berth's own environment (systemd socket activation), if it is ours.
pub fn listen_fds() -> u32 {
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
        .is_none_or(|p| p == std::process::id() as i32);
    if !pid_ok {
        return 0;
    }
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

pub fn create(store: &Store, args: &CreateArgs) -> Result<Created> {
    // Validate everything that needs no side effect before --root is touched.
    let id = ContainerId::parse(&args.id)?;
    let bundle = crate::spec::load::load_bundle(&args.bundle)?;
    Ok(parent::create(
        store,
        CreateOpts {
            id,
            bundle,
            pid_file: args.pid_file.clone(),
            console_socket: args.console_socket.clone(),
            no_pivot: args.no_pivot,
            no_new_keyring: args.no_new_keyring,
            preserve_fds: args.preserve_fds,
            listen_fds: listen_fds(),
        },
    )?)
}
