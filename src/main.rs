//! argv -> cli -> verb. Maps errors to exit status 1 and to the log; nothing else.

use berth::cli::{Cli, Command};
use berth::error::Result;
use berth::runtime;
use berth::store::Store;
use clap::Parser;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn version() -> String {
    format!(
        "berth version {VERSION}\ncommit: {}\nspec: {}\n",
        option_env!("BERTH_COMMIT").unwrap_or("unknown"),
        berth::state::OCI_VERSION
    )
}

fn dispatch(cli: &Cli, cmd: &Command) -> Result<i32> {
    if cli.systemd_cgroup {
        return Err(berth::cgroups::CgroupError::SystemdUnsupported.into());
    }
    let store = Store::new(&cli.root);
    match cmd {
        Command::Create(a) => runtime::create::create(&store, a).map(|_| 0),
        Command::Run(a) => runtime::run::run(&store, a),
        Command::Start { id } => runtime::start::start(&store, id).map(|_| 0),
        Command::State { id } => out(&(runtime::state::state(&store, id)? + "\n")),
        Command::Kill { all, id, signal } => {
            runtime::kill::kill(&store, id, signal, *all).map(|_| 0)
        }
        Command::Delete { force, id } => runtime::delete::delete(&store, id, *force).map(|_| 0),
        Command::List { format, quiet } => out(&runtime::list::list(&store, *format, *quiet)?),
        Command::Exec(a) => runtime::exec::exec(&store, a),
        Command::Update(a) => runtime::update::update(&store, a).map(|_| 0),
        Command::Pause { id } => runtime::pause::set_paused(&store, id, true).map(|_| 0),
        Command::Resume { id } => runtime::pause::set_paused(&store, id, false).map(|_| 0),
        Command::Ps {
            format,
            id,
            ps_args,
        } => out(&runtime::ps::ps(&store, id, *format, ps_args)?),
        Command::Events {
            stats,
            interval,
            id,
        } => runtime::events::events(&store, id, *stats, interval).map(|_| 0),
        Command::Features => {
            let f = runtime::features::features();
            out(&(serde_json::to_string_pretty(&f).unwrap_or_default() + "\n"))
        }
        Command::Spec { bundle, rootless } => runtime::spec::spec(bundle, *rootless).map(|_| 0),
    }
}

/// Write a verb's output. A reader that went away (EPIPE) is not an error worth a
/// message; anything else is.
fn out(text: &str) -> Result<i32> {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|_| o.flush()) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(berth::error::Error::io("stdout")(e)),
    }
}

/// Close every fd berth inherited beyond stdio and the ones it was asked to pass on,
/// before it opens any of its own (SECURITY.md attacks 10-12).
fn prepare_fds(preserve: u32) {
    let keep = berth::init::first_unpassed_fd(preserve, runtime::create::listen_fds());
    if let Err(e) = berth::sys::close_from(keep) {
        berth::log::warn(&format!("closing inherited fds: {e}"));
    }
}

fn main() {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Create(a)) => prepare_fds(a.preserve_fds),
        Some(Command::Run(a)) => prepare_fds(a.create.preserve_fds),
        Some(Command::Exec(a)) => prepare_fds(a.preserve_fds),
        _ => {}
    }
    berth::log::init(cli.log.as_deref(), cli.log_format, cli.debug);
    if cli.version {
        let _ = out(&version());
        return;
    }
    let Some(cmd) = &cli.command else {
        eprintln!("berth: no command given; see berth --help");
        std::process::exit(1);
    };
    match dispatch(&cli, cmd) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = e.to_string();
            berth::log::log(berth::log::Level::Error, &msg);
            eprintln!("berth: {msg}");
            std::process::exit(1);
        }
    }
}
