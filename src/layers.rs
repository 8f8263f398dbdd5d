//! Layered rootfs: the container's root as an overlay of read-only lower layers and a
//! per-container upper (copy-on-write) layer, so many containers share one image.
//! Chosen by annotations in config.json:
//!
//! | key                           | value                                        | default                  |
//! |-------------------------------|----------------------------------------------|--------------------------|
//! | `org.berth.rootfs.lower`      | absolute dirs, `:`-separated, top layer first | none: no overlay          |
//! | `org.berth.rootfs.upper`      | absolute dir that holds `upper/` and `work/` | `<bundle>/overlay/<id>`  |
//! | `org.berth.rootfs.keep-upper` | `true` or `false`: does `delete` keep `upper/` | `false`                  |
//!
//! The overlay is mounted at `root.path` (which must be a directory, usually empty) in
//! the container's own mount namespace, in place of the bind mount a plain rootfs gets,
//! before any entry of `mounts` (`init::rootfs::prepare`). Nothing is mounted on the
//! host, so the mount goes away with the container's last process.
//!
//! Why the default upper is under the bundle and not under `--root`: `--root` is
//! usually /run, a tmpfs, so every byte the container writes would be RAM and be lost
//! at reboot, which would make `keep-upper` meaningless; and the state dir is berth's
//! private record, removed whole by `delete`. The bundle is the user's: it already holds
//! the rootfs and config.json, is on disk, and is where one looks for a kept layer.
//!
//! Who removes what: `create` records in the state dir (`layers.json`) the directories
//! it is about to make, before making them. A failed create removes exactly those; a
//! `delete` (also after berth or the container was killed -9) always removes `work/`
//! (kernel scratch space), removes `upper/` unless `keep-upper` is true, and then
//! removes the now-empty directories the create made, never anything else.
//!
//! `root.readonly` applies to the overlay like to any rootfs: the mount is made
//! read-only after pivot_root, so the container cannot write and `upper/` stays empty.
//!
//! With a user namespace, the `upper/` and `work/` that create makes are chowned to the
//! host ids of the container's root; the init refuses an overlay the kernel mounted
//! read-only (it does so, silently, when it cannot write the upper layer).
//!
//! These annotations name host paths that berth reads and deletes, so `features` lists
//! the prefix under `potentiallyUnsafeConfigAnnotations`: an engine must not pass them
//! through from an untrusted pod spec.

use crate::spec::SpecError;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashMap;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

pub const PREFIX: &str = "org.berth.rootfs.";
pub const LOWER: &str = "org.berth.rootfs.lower";
pub const UPPER: &str = "org.berth.rootfs.upper";
pub const KEEP_UPPER: &str = "org.berth.rootfs.keep-upper";

/// The file in the container's state dir that records what create made.
pub const RECORD_FILE: &str = "layers.json";

/// overlayfs' limit on lower layers (OVL_MAX_STACK).
pub const MAX_LOWER: usize = 500;

/// mount(2) passes the options in one page, NUL included.
const MAX_MOUNT_DATA: usize = 4095;

/// The name of an annotation in error messages, as a JSON path.
pub fn field(key: &str) -> String {
    format!("annotations[{key:?}]")
}

/// What the annotations ask for (validated, not yet placed on the host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSpec {
    /// Top layer first, as overlayfs' lowerdir.
    pub lower: Vec<PathBuf>,
    pub upper: Option<PathBuf>,
    pub keep_upper: bool,
    /// With a user namespace: the host uid and gid of the container's root, who must
    /// own `upper/` and `work/` (else overlayfs mounts read-only).
    pub owner: Option<(u32, u32)>,
}

impl LayerSpec {
    /// The layers `spec` asks for, or None when it names no lower layer. Every rule
    /// of the annotations is checked here; errors name the annotation.
    pub fn from_spec(spec: &Spec) -> Result<Option<LayerSpec>, SpecError> {
        let empty = HashMap::new();
        let ann = spec.annotations().as_ref().unwrap_or(&empty);
        let Some(layers) = Self::from_annotations(ann)? else {
            return Ok(None);
        };
        let own_mount_ns = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref())
            .is_some_and(|ns| {
                ns.iter()
                    .any(|n| n.typ() == LinuxNamespaceType::Mount && n.path().is_none())
            });
        if !own_mount_ns {
            return Err(SpecError::invalid(
                field(LOWER),
                "the overlay is mounted in the container's own mount namespace, and \
                 linux.namespaces has no \"mount\" entry without a path",
            ));
        }
        let linux = spec.linux().as_ref();
        let host_root = |maps: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
            maps?
                .iter()
                .find_map(|m| (m.container_id() == 0 && m.size() > 0).then_some(m.host_id()))
        };
        let owner = match (
            host_root(linux.and_then(|l| l.uid_mappings().as_ref())),
            host_root(linux.and_then(|l| l.gid_mappings().as_ref())),
        ) {
            (None, None) => None,
            (u, g) => Some((u.unwrap_or(0), g.unwrap_or(0))),
        };
        Ok(Some(LayerSpec { owner, ..layers }))
    }

    pub fn from_annotations(ann: &HashMap<String, String>) -> Result<Option<LayerSpec>, SpecError> {
        // Sorted, so that with several bad keys the error is always the same one.
        let mut keys: Vec<&String> = ann.keys().filter(|k| k.starts_with(PREFIX)).collect();
        keys.sort();
        for k in keys {
            if ![LOWER, UPPER, KEEP_UPPER].contains(&k.as_str()) {
                return Err(SpecError::invalid(
                    field(k),
                    format!(
                        "unknown key; the {PREFIX}* keys are {LOWER}, {UPPER} and {KEEP_UPPER}"
                    ),
                ));
            }
        }
        let Some(lower) = ann.get(LOWER) else {
            for k in [UPPER, KEEP_UPPER] {
                if ann.contains_key(k) {
                    return Err(SpecError::invalid(
                        field(k),
                        format!("has no meaning without {LOWER}"),
                    ));
                }
            }
            return Ok(None);
        };
        let lower = parse_lower(lower)?;
        let upper = ann
            .get(UPPER)
            .map(|u| {
                let p = PathBuf::from(u);
                overlay_path(UPPER, "", &p)?;
                if u.contains(':') {
                    return Err(SpecError::invalid(
                        field(UPPER),
                        format!("{u:?}: ':' cannot be passed to overlayfs"),
                    ));
                }
                Ok(p)
            })
            .transpose()?;
        let keep_upper = match ann.get(KEEP_UPPER).map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(SpecError::invalid(
                    field(KEEP_UPPER),
                    format!("{other:?} is neither \"true\" nor \"false\""),
                ))
            }
        };
        Ok(Some(LayerSpec {
            lower,
            upper,
            keep_upper,
            owner: None,
        }))
    }

    /// Where this container's `upper/` and `work/` go (see the module doc).
    pub fn dir(&self, bundle: &Path, id: &str) -> PathBuf {
        match &self.upper {
            Some(u) => u.clone(),
            None => bundle.join("overlay").join(id),
        }
    }
}

fn parse_lower(s: &str) -> Result<Vec<PathBuf>, SpecError> {
    if s.is_empty() {
        return Err(SpecError::invalid(
            field(LOWER),
            "must name at least one directory",
        ));
    }
    let lower: Vec<PathBuf> = s.split(':').map(PathBuf::from).collect();
    if lower.len() > MAX_LOWER {
        return Err(SpecError::invalid(
            field(LOWER),
            format!("{} layers, more than overlayfs' {MAX_LOWER}", lower.len()),
        ));
    }
    for (i, p) in lower.iter().enumerate() {
        overlay_path(LOWER, &format!("layer {i}: "), p)?;
        if lower[..i].contains(p) {
            return Err(SpecError::invalid(
                field(LOWER),
                format!("layer {i}: {} is named twice", p.display()),
            ));
        }
    }
    Ok(lower)
}

/// A path overlayfs can take in its options: absolute, and free of the characters its
/// option syntax gives a meaning to (',' separates options, '\' escapes).
fn overlay_path(key: &str, at: &str, p: &Path) -> Result<(), SpecError> {
    let bytes = p.as_os_str().as_bytes();
    let why = if bytes.is_empty() {
        "is empty".to_string()
    } else if bytes.contains(&0) {
        "contains a NUL byte".to_string()
    } else if !p.is_absolute() {
        format!("{:?} is not an absolute path", p.display().to_string())
    } else if p.components().any(|c| c == Component::ParentDir) {
        format!("{:?} contains \"..\"", p.display().to_string())
    } else if let Some(c) = bytes.iter().find(|b| matches!(b, b',' | b'\\')) {
        format!(
            "{:?}: {:?} cannot be passed to overlayfs",
            p.display().to_string(),
            *c as char
        )
    } else {
        return Ok(());
    };
    Err(SpecError::invalid(field(key), format!("{at}{why}")))
}

/// The check `spec::validate` runs.
pub fn validate(spec: &Spec) -> Result<(), SpecError> {
    LayerSpec::from_spec(spec).map(drop)
}

// ---------------------------------------------------------------- on the host

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("{field}: {path}: {why}")]
    Path {
        field: String,
        path: PathBuf,
        why: String,
    },
    #[error("{field}: {what} {path}: {source}")]
    Io {
        field: String,
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: corrupt layer record: {why}")]
    Record { path: PathBuf, why: String },
}

fn io_err(key: &str, what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> LayerError {
    let field = field(key);
    let path = path.to_path_buf();
    move |source| LayerError::Io {
        field,
        what,
        path,
        source,
    }
}

/// One container's overlay, placed on the host: what create records in the state dir
/// and what the init mounts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Overlay {
    pub lower: Vec<PathBuf>,
    /// Holds `upper/` and `work/`.
    pub dir: PathBuf,
    pub keep_upper: bool,
    /// Owner given to `upper/` and `work/` when create makes them.
    #[serde(default)]
    pub owner: Option<(u32, u32)>,
    /// Directories this create makes (or made), parents first: a failed create removes
    /// them, and delete removes those still empty.
    pub made: Vec<PathBuf>,
    /// `<bundle>/overlay` when the dir is the default one: berth's own, shared by the
    /// containers of one bundle, removed by whichever leaves it empty.
    #[serde(default)]
    pub shared_parent: Option<PathBuf>,
}

impl Overlay {
    /// Check the host side (each lower is a directory; the options fit in a page) and
    /// work out which directories create will have to make. Touches nothing.
    pub fn plan(spec: &LayerSpec, bundle: &Path, id: &str) -> Result<Overlay, LayerError> {
        for p in &spec.lower {
            let m = std::fs::metadata(p).map_err(io_err(LOWER, "lower layer", p))?;
            if !m.is_dir() {
                return Err(LayerError::Path {
                    field: field(LOWER),
                    path: p.clone(),
                    why: "is not a directory".into(),
                });
            }
        }
        let dir = spec.dir(bundle, id);
        let key = if spec.upper.is_some() { UPPER } else { LOWER };
        // The default dir is under the bundle, whose path was not validated: the same
        // rules as for a named upper.
        if let Err(e) = overlay_path(UPPER, "", &dir) {
            return Err(LayerError::Path {
                field: field(key),
                path: dir,
                why: format!("{e} (where upper/ and work/ would go)"),
            });
        }
        if dir.to_str().is_none() {
            return Err(LayerError::Path {
                field: field(key),
                path: dir,
                why: "is not UTF-8 (where upper/ and work/ would go); set another directory".into(),
            });
        }
        if dir.as_os_str().as_bytes().contains(&b':') {
            return Err(LayerError::Path {
                field: field(key),
                path: dir,
                why: "':' cannot be passed to overlayfs; set another directory".into(),
            });
        }
        let mut made = Vec::new();
        let mut p = dir.as_path();
        loop {
            match std::fs::symlink_metadata(p) {
                Ok(m) if m.is_dir() => break,
                Ok(_) => {
                    return Err(LayerError::Path {
                        field: field(key),
                        path: p.to_path_buf(),
                        why: "is not a directory".into(),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => made.push(p.to_path_buf()),
                Err(e) => return Err(io_err(key, "stat", p)(e)),
            }
            match p.parent() {
                Some(parent) => p = parent,
                None => break,
            }
        }
        made.reverse();
        for sub in ["upper", "work"] {
            let s = dir.join(sub);
            match std::fs::symlink_metadata(&s) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(LayerError::Path {
                        field: field(key),
                        path: s,
                        why: "is not a directory".into(),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => made.push(s),
                Err(e) => return Err(io_err(key, "stat", &s)(e)),
            }
        }
        let ov = Overlay {
            lower: spec.lower.clone(),
            dir,
            keep_upper: spec.keep_upper,
            owner: spec.owner,
            made,
            shared_parent: spec.upper.is_none().then(|| bundle.join("overlay")),
        };
        let n = ov.mount_data().len();
        if n > MAX_MOUNT_DATA {
            return Err(LayerError::Path {
                field: field(LOWER),
                path: ov.dir.clone(),
                why: format!(
                    "the overlay options are {n} bytes, more than the {MAX_MOUNT_DATA} mount(2) takes: use fewer or shorter layer paths"
                ),
            });
        }
        Ok(ov)
    }

    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }

    /// overlayfs' mount options.
    pub fn mount_data(&self) -> String {
        let lower: Vec<String> = self
            .lower
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.join(":"),
            self.upper().display(),
            self.work().display()
        )
    }

    /// Make the directories of `made`, in order. `upper/` gets 0755 (the root of the
    /// container's filesystem takes the top lower layer's mode anyway); `work/` is
    /// kernel scratch space, 0700.
    pub fn make_dirs(&self) -> Result<(), LayerError> {
        use std::os::unix::fs::DirBuilderExt;
        for d in &self.made {
            let mode = if *d == self.work() { 0o700 } else { 0o755 };
            std::fs::DirBuilder::new()
                .mode(mode)
                .create(d)
                .map_err(io_err(UPPER, "mkdir", d))?;
            if let Some((uid, gid)) = self
                .owner
                .filter(|_| *d == self.upper() || *d == self.work())
            {
                std::os::unix::fs::lchown(d, Some(uid), Some(gid))
                    .map_err(io_err(UPPER, "chown", d))?;
            }
        }
        Ok(())
    }

    /// After a failed create: remove what this create made, nothing else.
    pub fn undo_create(&self) -> Result<(), LayerError> {
        for d in self.made.iter().rev() {
            if *d == self.upper() || *d == self.work() {
                remove_tree(d)?;
            } else {
                remove_empty(d)?;
            }
        }
        self.remove_shared_parent()
    }

    fn remove_shared_parent(&self) -> Result<(), LayerError> {
        match &self.shared_parent {
            Some(p) => remove_empty(p),
            None => Ok(()),
        }
    }

    /// At delete: `work/` always goes, `upper/` unless kept, then the directories the
    /// create made if they are empty by now (another container may share a parent).
    pub fn remove_for_delete(&self) -> Result<(), LayerError> {
        remove_tree(&self.work())?;
        if !self.keep_upper {
            remove_tree(&self.upper())?;
        }
        for d in self.made.iter().rev() {
            if *d != self.upper() && *d != self.work() {
                remove_empty(d)?;
            }
        }
        self.remove_shared_parent()
    }

    /// The record create writes to the state dir before it makes anything.
    pub fn to_json(&self) -> Result<Vec<u8>, LayerError> {
        serde_json::to_vec(self).map_err(|e| LayerError::Record {
            path: self.dir.clone(),
            why: e.to_string(),
        })
    }
}

/// The overlay recorded in a container's state dir, if any.
pub fn load_record(state_dir: &Path) -> Result<Option<Overlay>, LayerError> {
    let path = state_dir.join(RECORD_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(LayerError::Record {
                path,
                why: e.to_string(),
            })
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| LayerError::Record {
            path,
            why: e.to_string(),
        })
}

/// Remove a layer directory and everything in it. std's remove_dir_all does not follow
/// symlinks (CVE-2022-21658 fixed), so links the container left in its upper layer
/// cannot send the removal outside it.
fn remove_tree(p: &Path) -> Result<(), LayerError> {
    match std::fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(UPPER, "removing", p)(e)),
    }
}

fn remove_empty(p: &Path) -> Result<(), LayerError> {
    match std::fs::remove_dir(p) {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOENT) | Some(libc::ENOTEMPTY) | Some(libc::EEXIST)
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(io_err(UPPER, "removing", p)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn bad(pairs: &[(&str, &str)]) -> (String, String) {
        match LayerSpec::from_annotations(&ann(pairs)) {
            Err(SpecError::Invalid { field, reason }) => (field, reason),
            other => panic!("{pairs:?}: {other:?}"),
        }
    }

    #[test]
    fn no_lower_means_no_overlay() {
        assert_eq!(LayerSpec::from_annotations(&ann(&[])).unwrap(), None);
        assert_eq!(
            LayerSpec::from_annotations(&ann(&[("org.other", "x")])).unwrap(),
            None
        );
    }

    #[test]
    fn lower_upper_keep_parsed_top_first() {
        let s = LayerSpec::from_annotations(&ann(&[
            (LOWER, "/img/top:/img/base"),
            (UPPER, "/var/c1"),
            (KEEP_UPPER, "true"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            s.lower,
            vec![PathBuf::from("/img/top"), PathBuf::from("/img/base")]
        );
        assert_eq!(s.dir(Path::new("/b"), "c1"), PathBuf::from("/var/c1"));
        assert!(s.keep_upper);
        let s = LayerSpec::from_annotations(&ann(&[(LOWER, "/img")]))
            .unwrap()
            .unwrap();
        assert!(!s.keep_upper);
        assert_eq!(s.dir(Path::new("/b"), "c1"), PathBuf::from("/b/overlay/c1"));
    }

    #[test]
    fn bad_annotations_name_their_key() {
        let lower = field(LOWER);
        assert_eq!(bad(&[(LOWER, "")]).0, lower);
        assert_eq!(bad(&[(LOWER, "img")]).0, lower);
        assert_eq!(bad(&[(LOWER, "/a::/b")]).0, lower);
        assert_eq!(bad(&[(LOWER, "/a:")]).0, lower);
        assert_eq!(bad(&[(LOWER, "/a,b")]).0, lower);
        assert_eq!(bad(&[(LOWER, "/a\\b")]).0, lower);
        assert_eq!(bad(&[(LOWER, "/a/../b")]).0, lower);
        assert_eq!(bad(&[(LOWER, "/a\0")]).0, lower);
        assert_eq!(bad(&[(LOWER, "/a:/b:/a")]).1, "layer 2: /a is named twice");
        let many = vec!["/l"; MAX_LOWER + 1].join(":");
        assert_eq!(bad(&[(LOWER, &many)]).0, lower);
        let upper = field(UPPER);
        assert_eq!(bad(&[(LOWER, "/a"), (UPPER, "rel")]).0, upper);
        assert_eq!(bad(&[(LOWER, "/a"), (UPPER, "/x:y")]).0, upper);
        assert_eq!(bad(&[(LOWER, "/a"), (UPPER, "/x,y")]).0, upper);
        assert_eq!(bad(&[(UPPER, "/x")]).0, upper);
        let keep = field(KEEP_UPPER);
        assert_eq!(bad(&[(LOWER, "/a"), (KEEP_UPPER, "yes")]).0, keep);
        assert_eq!(bad(&[(KEEP_UPPER, "true")]).0, keep);
        assert_eq!(
            bad(&[(LOWER, "/a"), ("org.berth.rootfs.keepupper", "true")]).0,
            "annotations[\"org.berth.rootfs.keepupper\"]"
        );
    }

    #[test]
    fn validate_needs_a_new_mount_namespace() {
        let spec = |ns: serde_json::Value| -> Spec {
            serde_json::from_value(serde_json::json!({
                "ociVersion": "1.3.0",
                "root": {"path": "rootfs"},
                "annotations": {LOWER: "/img"},
                "linux": {"namespaces": ns}
            }))
            .unwrap()
        };
        assert!(validate(&spec(serde_json::json!([{"type": "mount"}]))).is_ok());
        for ns in [
            serde_json::json!([{"type": "pid"}]),
            serde_json::json!([{"type": "mount", "path": "/proc/1/ns/mnt"}]),
        ] {
            match validate(&spec(ns)) {
                Err(SpecError::Invalid { field: f, .. }) => assert_eq!(f, field(LOWER)),
                other => panic!("{other:?}"),
            }
        }
        // Through the whole list of checks too.
        let e = crate::spec::validate::validate(&spec(serde_json::json!([{"type": "pid"}])));
        assert!(e.is_err());
    }

    #[test]
    fn owner_is_the_host_id_of_the_containers_root() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.3.0",
            "root": {"path": "rootfs"},
            "annotations": {LOWER: "/img"},
            "linux": {
                "namespaces": [{"type": "mount"}, {"type": "user"}],
                "uidMappings": [{"containerID": 1, "hostID": 5000, "size": 10},
                                {"containerID": 0, "hostID": 100000, "size": 1}],
                "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 65536}]
            }
        }))
        .unwrap();
        let s = LayerSpec::from_spec(&spec).unwrap().unwrap();
        assert_eq!(s.owner, Some((100000, 200000)));
    }

    #[test]
    fn mount_data_lists_lowers_top_first() {
        let ov = Overlay {
            lower: vec![PathBuf::from("/l1"), PathBuf::from("/l0")],
            dir: PathBuf::from("/d"),
            keep_upper: false,
            owner: None,
            made: vec![],
            shared_parent: None,
        };
        assert_eq!(
            ov.mount_data(),
            "lowerdir=/l1:/l0,upperdir=/d/upper,workdir=/d/work"
        );
    }

    #[test]
    fn plan_records_only_missing_dirs_and_undo_removes_only_them() {
        let t = tempfile::tempdir().unwrap();
        let lower = t.path().join("lower");
        std::fs::create_dir(&lower).unwrap();
        let bundle = t.path().join("bundle");
        std::fs::create_dir(&bundle).unwrap();
        let spec = LayerSpec {
            lower: vec![lower.clone()],
            upper: None,
            keep_upper: false,
            owner: None,
        };
        let ov = Overlay::plan(&spec, &bundle, "c1").unwrap();
        let d = bundle.join("overlay/c1");
        assert_eq!(
            ov.made,
            vec![
                bundle.join("overlay"),
                d.clone(),
                d.join("upper"),
                d.join("work")
            ]
        );
        ov.make_dirs().unwrap();
        std::fs::write(d.join("upper/f"), "x").unwrap();
        // A second container under the same bundle makes only its own dirs.
        let ov2 = Overlay::plan(&spec, &bundle, "c2").unwrap();
        assert_eq!(ov2.made[0], bundle.join("overlay/c2"));
        ov2.make_dirs().unwrap();
        ov.undo_create().unwrap();
        assert!(!d.exists());
        assert!(bundle.join("overlay/c2/upper").is_dir());
        ov2.remove_for_delete().unwrap();
        assert!(!bundle.join("overlay").exists());
        assert!(bundle.is_dir() && lower.is_dir());
    }

    #[test]
    fn delete_keeps_upper_when_asked() {
        let t = tempfile::tempdir().unwrap();
        let lower = t.path().join("lower");
        std::fs::create_dir(&lower).unwrap();
        let spec = LayerSpec {
            lower: vec![lower],
            upper: Some(t.path().join("keep")),
            keep_upper: true,
            owner: None,
        };
        let ov = Overlay::plan(&spec, t.path(), "c").unwrap();
        ov.make_dirs().unwrap();
        std::fs::write(ov.upper().join("f"), "x").unwrap();
        ov.remove_for_delete().unwrap();
        assert_eq!(std::fs::read(ov.upper().join("f")).unwrap(), b"x");
        assert!(!ov.work().exists());
        // Run again on the kept layer: only work/ is new, and undo leaves upper/ be.
        let again = Overlay::plan(&spec, t.path(), "c").unwrap();
        assert_eq!(again.made, vec![again.work()]);
        again.make_dirs().unwrap();
        again.undo_create().unwrap();
        assert!(again.upper().join("f").is_file());
    }

    #[test]
    fn plan_refuses_missing_lower_and_file_upper() {
        let t = tempfile::tempdir().unwrap();
        let spec = LayerSpec {
            lower: vec![t.path().join("nope")],
            upper: None,
            keep_upper: false,
            owner: None,
        };
        let e = Overlay::plan(&spec, t.path(), "c").unwrap_err().to_string();
        assert!(e.starts_with(&field(LOWER)), "{e}");
        std::fs::create_dir(t.path().join("l")).unwrap();
        std::fs::write(t.path().join("f"), "").unwrap();
        let spec = LayerSpec {
            lower: vec![t.path().join("l")],
            upper: Some(t.path().join("f")),
            keep_upper: false,
            owner: None,
        };
        let e = Overlay::plan(&spec, t.path(), "c").unwrap_err().to_string();
        assert!(
            e.starts_with(&field(UPPER)) && e.contains("not a directory"),
            "{e}"
        );
    }
}
