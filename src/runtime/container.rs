//! A container as found under `--root`: its locked entry, its record, and its status
//! as derived from what the kernel says about the init right now.

use crate::cgroups::{Cgroup, Layout};
use crate::error::{Error, Result};
use crate::id::ContainerId;
use crate::init::parent::parse_stat;
use crate::state::{ProcessFacts, StateRecord, Status};
use crate::store::{self, Entry, Store};
use crate::sys;
use std::os::fd::OwnedFd;

pub struct Container {
    pub entry: Entry,
    /// None while (or if) create has not written it.
    pub record: Option<StateRecord>,
}

impl Container {
    pub fn open(store: &Store, id: &str) -> Result<Container> {
        let id = ContainerId::parse(id)?;
        let entry = store.open(&id)?;
        let record = entry.load()?;
        Ok(Container { entry, record })
    }

    pub fn id(&self) -> &str {
        self.entry.id.as_str()
    }

    /// Is the recorded init still the same process, and not a zombie?
    pub fn init_alive(&self) -> bool {
        let Some(r) = &self.record else {
            return false;
        };
        if r.pid <= 0 {
            return false;
        }
        match std::fs::read_to_string(format!("/proc/{}/stat", r.pid))
            .ok()
            .as_deref()
            .and_then(parse_stat)
        {
            Some((state, start)) => state != 'Z' && state != 'X' && start == r.init_start_time,
            None => false,
        }
    }

    /// The container's cgroup: from the state record, or, when create was cut short
    /// before writing it (berth killed), from the path create noted on taking the
    /// cgroup.
    pub fn cgroup(&self) -> Option<Cgroup> {
        let path = match &self.record {
            Some(r) => r.cgroup_path.clone(),
            None => self.entry.read_note(store::CGROUP_FILE)?,
        };
        let layout = Layout::detect().ok()?;
        Some(Cgroup::new(&layout, &path))
    }

    pub fn status(&self) -> Status {
        let facts = match &self.record {
            None => ProcessFacts::NotYetReported,
            Some(r) if r.pid == 0 => ProcessFacts::NotYetReported,
            Some(_) if !self.init_alive() => ProcessFacts::Gone,
            Some(_) => ProcessFacts::Alive {
                waiting_for_start: self.entry.path(store::EXEC_FIFO).exists(),
                frozen: self.cgroup().is_some_and(|c| c.frozen()),
            },
        };
        Status::derive(facts)
    }

    /// A pidfd on the init, checked against the recorded start time after opening,
    /// so a reused pid is never signalled (SECURITY.md attack 25).
    pub fn init_pidfd(&self) -> Option<OwnedFd> {
        let r = self.record.as_ref()?;
        let fd = sys::pidfd_open(r.pid).ok()?;
        self.init_alive().then_some(fd)
    }

    pub fn record(&self) -> Result<&StateRecord> {
        self.record.as_ref().ok_or_else(|| Error::WrongState {
            op: "use",
            id: self.id().to_string(),
            status: Status::Creating,
            hint: "",
        })
    }

    /// The config.json snapshot taken at create.
    pub fn config(&self) -> Result<oci_spec::runtime::Spec> {
        let p = self.entry.path(store::CONFIG_FILE);
        let bytes = std::fs::read(&p).map_err(Error::io(format!("{}", p.display())))?;
        Ok(crate::spec::load::parse_spec(&bytes)?)
    }
}
