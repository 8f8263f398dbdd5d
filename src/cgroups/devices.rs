//! The device cgroup: which device nodes the container may open or mknod. The rules
//! are `linux.resources.devices` in order, then the devices every container gets
//! (runtime-linux.md default devices, the pty devices, and `linux.devices`), which
//! engines expect the runtime to allow itself (ENGINES.md: podman sends only deny-all).
//! Pure: rules in, v1 file writes out.

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};

/// One rule in the kernel's v1 syntax: `c 1:3 rwm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    /// 'a', 'c' or 'b'.
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

impl Rule {
    fn allow(kind: char, major: Option<i64>, minor: Option<i64>, access: &str) -> Rule {
        Rule {
            allow: true,
            kind,
            major,
            minor,
            access: access.into(),
        }
    }

    /// `devices.allow`/`devices.deny` line.
    pub fn v1_line(&self) -> String {
        if self.kind == 'a' {
            return "a".into();
        }
        let n = |v: Option<i64>| {
            v.filter(|v| *v >= 0)
                .map_or("*".to_string(), |v| v.to_string())
        };
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            self.access
        )
    }
}

fn kind_of(t: Option<LinuxDeviceType>) -> char {
    match t {
        None | Some(LinuxDeviceType::A) => 'a',
        Some(LinuxDeviceType::B) => 'b',
        // u (unbuffered char) is a char device to the cgroup; p has no cgroup rule.
        Some(_) => 'c',
    }
}

/// Every rule, in the order the kernel must see them: deny all first, then the spec's
/// rules, then what every container is given.
pub fn rules(spec_rules: &[LinuxDeviceCgroup], devices: &[LinuxDevice]) -> Vec<Rule> {
    let mut out = vec![Rule {
        allow: false,
        kind: 'a',
        major: None,
        minor: None,
        access: "rwm".into(),
    }];
    for r in spec_rules {
        out.push(Rule {
            allow: r.allow(),
            kind: kind_of(r.typ()),
            major: r.major(),
            minor: r.minor(),
            access: r.access().clone().unwrap_or_else(|| "rwm".into()),
        });
    }
    // As runc: creating any node is allowed; opening it is what the rules guard.
    out.push(Rule::allow('c', None, None, "m"));
    out.push(Rule::allow('b', None, None, "m"));
    for (maj, min) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
    ] {
        out.push(Rule::allow('c', Some(maj), Some(min), "rwm"));
    }
    // /dev/pts/*: the container's own terminals.
    out.push(Rule::allow('c', Some(136), None, "rwm"));
    for d in devices {
        if d.typ() == LinuxDeviceType::P {
            continue;
        }
        out.push(Rule::allow(
            kind_of(Some(d.typ())),
            Some(d.major()),
            Some(d.minor()),
            "rwm",
        ));
    }
    out
}

/// (file, line) writes for a v1 devices hierarchy.
pub fn v1_writes(rules: &[Rule]) -> Vec<(&'static str, String)> {
    rules
        .iter()
        .map(|r| {
            let file = if r.allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            (file, r.v1_line())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_rule(
        allow: bool,
        t: Option<LinuxDeviceType>,
        maj: Option<i64>,
        min: Option<i64>,
        acc: &str,
    ) -> LinuxDeviceCgroup {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(allow);
        r.set_typ(t);
        r.set_major(maj);
        r.set_minor(min);
        r.set_access(Some(acc.into()));
        r
    }

    #[test]
    fn deny_all_first_then_spec_then_defaults() {
        let spec = [
            spec_rule(false, None, None, None, "rwm"),
            spec_rule(true, Some(LinuxDeviceType::C), Some(10), Some(200), "rw"),
        ];
        let w = v1_writes(&rules(&spec, &[]));
        assert_eq!(w[0], ("devices.deny", "a".to_string()));
        assert_eq!(w[1], ("devices.deny", "a".to_string()));
        assert_eq!(w[2], ("devices.allow", "c 10:200 rw".to_string()));
        assert!(w.contains(&("devices.allow", "c 1:3 rwm".to_string())));
        assert!(w.contains(&("devices.allow", "c 136:* rwm".to_string())));
        assert!(
            !w.iter().any(|(_, l)| l.starts_with("b ") && l != "b *:* m"),
            "no block device may be opened by default"
        );
    }

    #[test]
    fn linux_devices_are_allowed_and_wildcards_print_as_star() {
        let mut d = LinuxDevice::default();
        d.set_typ(LinuxDeviceType::B);
        d.set_major(7);
        d.set_minor(0);
        let w = v1_writes(&rules(
            &[spec_rule(
                true,
                Some(LinuxDeviceType::C),
                None,
                Some(-1),
                "m",
            )],
            &[d],
        ));
        assert!(w.contains(&("devices.allow", "c *:* m".to_string())));
        assert_eq!(
            w.last().unwrap(),
            &("devices.allow", "b 7:0 rwm".to_string())
        );
    }
}
