//! `skiff ctl`: questions to a running daemon over its Unix socket, one request line and
//! one reply (`ok` or `error` on the first line, then the text).

use skiff_core::Stack;
use skiff_core::route::FibTableId;
use skiff_core::time::Instant;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Where daemons put their control sockets by default.
pub const CTL_DIR: &str = "/run/skiff";

/// The daemon's side: answers one request.
pub fn handle(stack: &mut Stack, now: Instant, req: &str) -> Result<String, String> {
    let mut words = req.split_whitespace();
    let cmd = words.next().unwrap_or("");
    let args: Vec<&str> = words.collect();
    let no_args = |text: String| {
        if args.is_empty() {
            Ok(text)
        } else {
            Err(format!("{cmd} takes no arguments"))
        }
    };
    match cmd {
        "snmp" => no_args(stack.render_snmp()),
        "netstat" => no_args(stack.render_netstat()),
        "route" => no_args(stack.fib.render(FibTableId::Main)),
        "neigh" => no_args(stack.render_neigh()),
        "frags" => no_args(stack.ipfrags().render(now)),
        "rules" => no_args(stack.nf.render_rules()),
        "link" => no_args(stack.render_link()),
        "drops" => no_args(stack.render_drops()),
        // /proc/net/igmp, then /proc/net/mcfilter.
        "igmp" => no_args(stack.render_igmp() + &stack.render_mcfilter()),
        // /proc/net/ip_mr_vif, then /proc/net/ip_mr_cache.
        "mroute" => no_args(stack.render_ip_mr_vif() + &stack.render_ip_mr_cache()),
        "sysctl" => sysctl(stack, &args),
        _ => Err(format!(
            "unknown command {cmd:?} (snmp, netstat, route, neigh, frags, rules, link, drops, igmp, mroute, sysctl)"
        )),
    }
}

/// `sysctl KEY...` reads, `sysctl KEY=VALUE...` writes as `sysctl -w` does, printing
/// `KEY = VALUE` for each. Every write is checked first: an unknown key or a bad value
/// changes nothing.
fn sysctl(stack: &mut Stack, args: &[&str]) -> Result<String, String> {
    if args.is_empty() {
        return Err("sysctl needs KEY or KEY=VALUE".to_string());
    }
    // In order, each write checked after the ones before it.
    let mut writes = Vec::new();
    for a in args {
        let checked = match a.split_once('=') {
            Some(kv) => {
                writes.push(kv);
                stack.check_sysctls(&writes).map_err(|(_, e)| e)
            }
            None => stack.sysctl_value(a).map(|_| ()),
        };
        checked.map_err(|e| format!("sysctl {a}: {e}"))?;
    }
    let mut out = String::new();
    for a in args {
        let key = match a.split_once('=') {
            Some((k, v)) => {
                stack
                    .set_sysctl(k, v)
                    .map_err(|e| format!("sysctl {a}: {e}"))?;
                k
            }
            None => a,
        };
        let value = stack
            .sysctl_value(key)
            .map_err(|e| format!("sysctl {key}: {e}"))?;
        out.push_str(&format!("{key} = {value}\n"));
    }
    Ok(out)
}

/// The client's side: sends `words` as one line and returns the reply text, or the
/// daemon's error.
pub fn request(path: Option<&Path>, words: &[String]) -> Result<String, String> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => default_socket()?,
    };
    let mut conn = UnixStream::connect(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let line = words.join(" ");
    if line.contains('\n') {
        return Err("a request is one line".to_string());
    }
    conn.write_all(format!("{line}\n").as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reply = String::new();
    conn.read_to_string(&mut reply)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match reply.split_once('\n') {
        Some(("ok", text)) => Ok(text.to_string()),
        Some(("error", msg)) => Err(msg.trim_end().to_string()),
        _ => Err(format!("{}: no reply", path.display())),
    }
}

/// The only socket in [`CTL_DIR`]; with none or several, the user must say which.
fn default_socket() -> Result<PathBuf, String> {
    let mut socks: Vec<PathBuf> = std::fs::read_dir(CTL_DIR)
        .map_err(|e| format!("{CTL_DIR}: {e} (is a daemon running? give --ctl PATH)"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sock"))
        .collect();
    socks.sort();
    match socks.len() {
        1 => Ok(socks.remove(0)),
        0 => Err(format!("no daemon socket in {CTL_DIR}; give --ctl PATH")),
        _ => Err(format!(
            "several daemons in {CTL_DIR} ({}); give --ctl PATH",
            socks
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::StackConfig;

    fn stack() -> Stack {
        Stack::new(StackConfig::default())
    }

    #[test]
    fn sysctl_reads_and_writes_by_kernel_name() {
        let mut s = stack();
        let now = Instant::ZERO;
        assert_eq!(
            handle(&mut s, now, "sysctl ip_forward").unwrap(),
            "ip_forward = 0\n"
        );
        assert_eq!(
            handle(&mut s, now, "sysctl ip_forward=1 ipfrag_time=10").unwrap(),
            "ip_forward = 1\nipfrag_time = 10\n"
        );
        assert_eq!(s.sysctl().ip_forward, 1);
        assert_eq!(
            handle(&mut s, now, "sysctl net.ipv4.ip_default_ttl").unwrap(),
            "net.ipv4.ip_default_ttl = 64\n"
        );
    }

    #[test]
    fn a_bad_sysctl_changes_nothing() {
        let mut s = stack();
        let now = Instant::ZERO;
        let e = handle(&mut s, now, "sysctl ip_forward=1 ip_default_ttl=0").unwrap_err();
        assert!(e.contains("ip_default_ttl=0"), "{e}");
        assert_eq!(s.sysctl().ip_forward, 0, "the good half was not applied");
        let e = handle(&mut s, now, "sysctl no_such_key=1").unwrap_err();
        assert!(e.contains("no_such_key"), "{e}");
        let e = handle(&mut s, now, "sysctl ip_forward=yes").unwrap_err();
        assert!(e.contains("yes"), "{e}");
        assert_eq!(s.sysctl(), &skiff_core::sysctl::Sysctl::default());
    }

    #[test]
    fn listings_answer_and_unknown_commands_are_refused() {
        let mut s = stack();
        let now = Instant::ZERO;
        assert!(
            handle(&mut s, now, "snmp")
                .unwrap()
                .starts_with("Ip: Forwarding")
        );
        assert!(
            handle(&mut s, now, "netstat")
                .unwrap()
                .starts_with("IpExt:")
        );
        assert_eq!(handle(&mut s, now, "neigh").unwrap(), "");
        assert_eq!(handle(&mut s, now, "frags").unwrap(), "");
        assert!(
            handle(&mut s, now, "rules")
                .unwrap()
                .contains("Chain INPUT")
        );
        assert_eq!(
            handle(&mut s, now, "igmp").unwrap(),
            "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n\
             1\tlo        :     1      V3\n\
             \t\t\t\t010000E0     1 0:00000000\t\t0\n\
             Idx Device        MCA        SRC    INC    EXC\n"
        );
        assert_eq!(
            handle(&mut s, now, "mroute").unwrap(),
            "Interface      BytesIn  PktsIn  BytesOut PktsOut Flags Local    Remote\n\
             Group    Origin   Iif     Pkts    Bytes    Wrong Oifs\n"
        );
        assert!(handle(&mut s, now, "mroute x").is_err());
        assert!(handle(&mut s, now, "snmp x").is_err());
        assert!(
            handle(&mut s, now, "reboot")
                .unwrap_err()
                .contains("reboot")
        );
    }
}
