//! Published ports and masquerade as one nftables table per container
//! (`ip berth-HASH`, see `super::names`), so removing a container's rules is
//! removing its table: exact, and possible after a crash without any record.
//!
//! The rules go through the `nftables` crate, which hands typed JSON to `nft -j`: the
//! only pure-netlink nftables crate (rustables) is GPL-3.0, which an Apache-2.0
//! berth cannot link, and nftnl needs libnftnl at build and run time.

use super::config::{Bridge, Proto};
use super::NetworkError;
use nftables::expr::{
    Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression, Payload, PayloadField,
};
use nftables::schema::{Chain, NfCmd, NfListObject, NfObject, Nftables, Rule, Table};
use nftables::stmt::{Match, Operator, Statement, NAT};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};
use std::borrow::Cow;
use std::net::Ipv4Addr;

fn table(name: &str) -> Table<'static> {
    Table {
        family: NfFamily::IP,
        name: Cow::Owned(name.to_string()),
        handle: None,
    }
}

fn apply(objects: Vec<NfObject<'static>>) -> Result<(), NetworkError> {
    let doc = Nftables {
        objects: Cow::Owned(objects),
    };
    use nftables::helper::NftablesError as E;
    nftables::helper::apply_ruleset(&doc).map_err(|e| {
        NetworkError::Nft(match e {
            // The crate's message leaves out what nft said.
            E::NftFailed { hint, stderr, .. } => {
                format!("nft failed while {hint}: {}", stderr.trim())
            }
            E::NftExecution { .. } => format!(
                "{e} (org.berth.network.ports and .masquerade need nft, Debian package nftables)"
            ),
            e => e.to_string(),
        })
    })
}

/// `add` then `delete`: removes the table whether or not it exists, in one atomic
/// transaction (nft 1.0.6 has no `destroy`).
fn remove_cmds(name: &str) -> Vec<NfObject<'static>> {
    vec![
        NfObject::CmdObject(NfCmd::Add(NfListObject::Table(table(name)))),
        NfObject::CmdObject(NfCmd::Delete(NfListObject::Table(table(name)))),
    ]
}

pub fn remove(name: &str) -> Result<(), NetworkError> {
    apply(remove_cmds(name))
}

fn m(left: Expression<'static>, op: Operator, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

fn payload(proto: &str, field: &str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: Cow::Owned(proto.to_string()),
            field: Cow::Owned(field.to_string()),
        },
    )))
}

fn s(v: impl ToString) -> Expression<'static> {
    Expression::String(Cow::Owned(v.to_string()))
}

/// The whole ruleset of one container, replacing any earlier one atomically.
pub fn install(name: &str, id: &str, b: &Bridge, ip: Ipv4Addr) -> Result<(), NetworkError> {
    let mut cmds = remove_cmds(name);
    cmds.push(NfObject::CmdObject(NfCmd::Add(NfListObject::Table(table(
        name,
    )))));
    let chain = |cname: &str, hook: NfHook, prio: i32| {
        NfObject::CmdObject(NfCmd::Add(NfListObject::Chain(Chain {
            family: NfFamily::IP,
            table: Cow::Owned(name.to_string()),
            name: Cow::Owned(cname.to_string()),
            newname: None,
            handle: None,
            _type: Some(NfChainType::NAT),
            hook: Some(hook),
            prio: Some(prio),
            dev: None,
            policy: Some(NfChainPolicy::Accept),
        })))
    };
    let rule = |cname: &str, expr: Vec<Statement<'static>>| {
        NfObject::CmdObject(NfCmd::Add(NfListObject::Rule(Rule {
            family: NfFamily::IP,
            table: Cow::Owned(name.to_string()),
            chain: Cow::Owned(cname.to_string()),
            expr: Cow::Owned(expr),
            handle: None,
            index: None,
            comment: Some(Cow::Owned(format!("berth container {id}"))),
        })))
    };
    if !b.ports.is_empty() {
        // prerouting: from other hosts; output: from this host itself. Both only for
        // the host's own addresses, so traffic passing through is left alone.
        for (cname, hook) in [
            ("prerouting", NfHook::Prerouting),
            ("output", NfHook::Output),
        ] {
            cmds.push(chain(cname, hook, -100));
            for p in &b.ports {
                let proto = match p.proto {
                    Proto::Tcp => "tcp",
                    Proto::Udp => "udp",
                };
                cmds.push(rule(
                    cname,
                    vec![
                        m(
                            Expression::Named(NamedExpression::Fib(Fib {
                                result: FibResult::Type,
                                flags: [FibFlag::Daddr].into_iter().collect(),
                            })),
                            Operator::EQ,
                            s("local"),
                        ),
                        m(
                            payload(proto, "dport"),
                            Operator::EQ,
                            Expression::Number(u32::from(p.host)),
                        ),
                        Statement::DNAT(Some(NAT {
                            addr: Some(s(ip)),
                            family: None,
                            port: Some(Expression::Number(u32::from(p.container))),
                            flags: None,
                        })),
                    ],
                ));
            }
        }
    }
    if b.masquerade {
        cmds.push(chain("postrouting", NfHook::Postrouting, 100));
        cmds.push(rule(
            "postrouting",
            vec![
                m(payload("ip", "saddr"), Operator::EQ, s(ip)),
                m(
                    Expression::Named(NamedExpression::Meta(Meta {
                        key: MetaKey::Oifname,
                    })),
                    Operator::NEQ,
                    s(&b.bridge),
                ),
                Statement::Masquerade(None),
            ],
        ));
    }
    apply(cmds)
}
