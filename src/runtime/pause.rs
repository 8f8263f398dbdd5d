use super::Container;
use crate::error::{Error, Result};
use crate::state::{allowed, Op};
use crate::store::Store;

/// `pause` (freeze) or `resume` (thaw) every process of the container.
pub fn set_paused(store: &Store, id: &str, paused: bool) -> Result<()> {
    let c = Container::open(store, id)?;
    let status = c.status();
    let (op, name, hint) = if paused {
        (Op::Pause, "pause", ", not running")
    } else {
        (Op::Resume, "resume", ", not paused")
    };
    if !allowed(op, status) {
        return Err(Error::WrongState {
            op: name,
            id: c.id().to_string(),
            status,
            hint,
        });
    }
    let cg = c
        .cgroup()
        .ok_or_else(|| Error::Usage(format!("container {id} has no cgroup")))?;
    Ok(cg.set_frozen(paused)?)
}
