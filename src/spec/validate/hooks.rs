//! `hooks.*`: path, timeout, args and env of every hook.

use super::{absolute_path, env_entry, no_nul_str};
use crate::spec::SpecError;
use oci_spec::runtime::{Hook, Spec};

fn hook_list(kind: &str, list: &Option<Vec<Hook>>) -> Result<(), SpecError> {
    for (i, h) in list.iter().flatten().enumerate() {
        let f = format!("hooks.{kind}[{i}]");
        absolute_path(&format!("{f}.path"), h.path())?;
        if let Some(t) = h.timeout() {
            if t <= 0 {
                return Err(SpecError::invalid(
                    format!("{f}.timeout"),
                    format!("{t} is not more than 0"),
                ));
            }
        }
        for (j, a) in h.args().iter().flatten().enumerate() {
            no_nul_str(&format!("{f}.args[{j}]"), a)?;
        }
        for (j, e) in h.env().iter().flatten().enumerate() {
            env_entry(&format!("{f}.env[{j}]"), e)?;
        }
    }
    Ok(())
}

#[allow(deprecated)] // prestart is deprecated in the spec, and still sent by Docker.
pub(super) fn hooks(spec: &Spec) -> Result<(), SpecError> {
    let Some(h) = spec.hooks().as_ref() else {
        return Ok(());
    };
    hook_list("prestart", h.prestart())?;
    hook_list("createRuntime", h.create_runtime())?;
    hook_list("createContainer", h.create_container())?;
    hook_list("startContainer", h.start_container())?;
    hook_list("poststart", h.poststart())?;
    hook_list("poststop", h.poststop())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use serde_json::json;

    #[test]
    fn hooks_path_and_timeout() {
        let v = with(
            base(),
            "/hooks",
            json!({"prestart": [{"path": "/usr/bin/libnetwork-setkey", "args": ["x"]}]}),
        );
        assert!(check(&v).is_ok());
        let cases = [
            (
                json!({"prestart": [{"path": "setkey"}]}),
                "hooks.prestart[0].path",
            ),
            (
                json!({"createRuntime": [{"path": "/a"}, {"path": "b"}]}),
                "hooks.createRuntime[1].path",
            ),
            (
                json!({"poststop": [{"path": "/a", "timeout": 0}]}),
                "hooks.poststop[0].timeout",
            ),
            (
                json!({"poststart": [{"path": "/a", "timeout": -5}]}),
                "hooks.poststart[0].timeout",
            ),
            (
                json!({"startContainer": [{"path": "/a", "env": ["X"]}]}),
                "hooks.startContainer[0].env[0]",
            ),
            (
                json!({"createContainer": [{"path": "/a", "args": ["a\u{0}"]}]}),
                "hooks.createContainer[0].args[0]",
            ),
        ];
        for (h, field) in cases {
            assert_eq!(
                failing_field(&with(base(), "/hooks", h.clone())),
                field,
                "{h}"
            );
        }
    }
}
