//! Configuring a stack: devices, addresses, routes and sysctls (Linux's rtnetlink and
//! `/proc/sys/net` writes, as `ip link`, `ip addr`, `ip route` and `sysctl` make them).

use super::Stack;
use crate::drop::DropReason;
use crate::errno::Errno;
use crate::neigh::NeighDev;
use crate::netdev::{DevKind, NetDevice};
use crate::route::{FibDevice, FibRoute, RouteError};
use crate::skb::SkBuff;
use crate::sysctl::{Sysctl, SysctlError};
use core::fmt;
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;

/// An error from configuring a stack. Each names its errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// ENODEV: no device with that index or name.
    NoDevice,
    /// EEXIST: a device with that name exists.
    Exists,
    Route(RouteError),
    Sysctl(SysctlError),
}

impl ConfigError {
    /// The Linux errno value.
    pub fn errno(&self) -> i32 {
        self.as_errno().errno()
    }

    /// The errno, by name.
    pub fn as_errno(&self) -> Errno {
        match self {
            ConfigError::NoDevice => Errno::NoDev,
            ConfigError::Exists => Errno::Exist,
            ConfigError::Route(e) => e.as_errno(),
            ConfigError::Sysctl(e) => e.as_errno(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoDevice => write!(f, "{}", Errno::NoDev),
            ConfigError::Exists => write!(f, "device exists ({})", Errno::Exist.name()),
            ConfigError::Route(e) => write!(f, "{e}"),
            ConfigError::Sysctl(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<RouteError> for ConfigError {
    fn from(e: RouteError) -> Self {
        ConfigError::Route(e)
    }
}

impl Stack {
    /// Adds an Ethernet device (down, no addresses) and returns its ifindex.
    pub fn add_device(
        &mut self,
        name: &str,
        mac: EthernetAddress,
        mtu: u32,
    ) -> Result<u32, ConfigError> {
        self.add_device_kind(name, DevKind::Ethernet, mac, mtu)
    }

    /// Adds a TUN device (bare IPv4 packets, no link header, no ARP; down, no
    /// addresses) and returns its ifindex.
    pub fn add_tun_device(&mut self, name: &str, mtu: u32) -> Result<u32, ConfigError> {
        self.add_device_kind(name, DevKind::RawIp, EthernetAddress([0; 6]), mtu)
    }

    pub(crate) fn add_device_kind(
        &mut self,
        name: &str,
        kind: DevKind,
        mac: EthernetAddress,
        mtu: u32,
    ) -> Result<u32, ConfigError> {
        if self.devs.iter().any(|d| d.name == name) {
            return Err(ConfigError::Exists);
        }
        let ifindex = u32::try_from(self.devs.len() + 1).map_err(|_| ConfigError::NoDevice)?;
        self.devs
            .push(NetDevice::new(ifindex, name, kind, mac, mtu));
        self.sync_fib_device(ifindex, None);
        Ok(ifindex)
    }

    #[inline]
    pub fn dev(&self, ifindex: u32) -> Option<&NetDevice> {
        let i = usize::try_from(ifindex).ok()?.checked_sub(1)?;
        self.devs.get(i)
    }

    #[inline]
    pub(crate) fn dev_mut(&mut self, ifindex: u32) -> Option<&mut NetDevice> {
        let i = usize::try_from(ifindex).ok()?.checked_sub(1)?;
        self.devs.get_mut(i)
    }

    pub fn dev_by_name(&self, name: &str) -> Option<&NetDevice> {
        self.devs.iter().find(|d| d.name == name)
    }

    pub fn devices(&self) -> impl Iterator<Item = &NetDevice> {
        self.devs.iter()
    }

    /// The name of `ifindex`, or "?" for none.
    pub(crate) fn dev_name(&self, ifindex: u32) -> &str {
        self.dev(ifindex).map_or("?", |d| d.name.as_str())
    }

    /// `ip link set DEV up|down`. Down flushes the device's neighbours and queue and stops
    /// its IGMP reports; up announces its memberships again.
    pub fn set_up(&mut self, ifindex: u32, up: bool) -> Result<(), ConfigError> {
        let dev = self.dev_mut(ifindex).ok_or(ConfigError::NoDevice)?;
        let was_up = core::mem::replace(&mut dev.up, up);
        let dropped: Vec<SkBuff> = if up {
            Vec::new()
        } else {
            dev.tx_queue.drain(..).collect()
        };
        for mut skb in dropped {
            if let Some(o) = skb.sk.take() {
                self.sock_wmem(o, skb.len(), false);
            }
            self.kfree_skb(skb, DropReason::DevReady);
        }
        if !up {
            let mut actions = core::mem::take(&mut self.neigh_actions);
            self.neigh.flush_dev(ifindex, &mut actions);
            self.run_neigh_actions(&mut actions);
            self.neigh_actions = actions;
        }
        self.sync_fib_device(ifindex, None);
        // Linux inetdev_event(): NETDEV_UP → ip_mc_up(), NETDEV_DOWN → ip_mc_down().
        match (was_up, up) {
            (false, true) => self.ip_mc_up(ifindex),
            (true, false) => self.ip_mc_down(ifindex),
            _ => {}
        }
        Ok(())
    }

    /// `ip link set DEV mtu N`.
    pub fn set_mtu(&mut self, ifindex: u32, mtu: u32) -> Result<(), ConfigError> {
        self.dev_mut(ifindex).ok_or(ConfigError::NoDevice)?.mtu = mtu;
        self.sync_fib_device(ifindex, None);
        Ok(())
    }

    /// `ip addr add A/P dev DEV`: installs the local, broadcast and prefix routes and, on
    /// Ethernet, announces the address with a gratuitous ARP (Linux arp_ifup).
    pub fn add_addr(
        &mut self,
        ifindex: u32,
        addr: Ipv4Addr,
        prefix_len: u8,
    ) -> Result<(), ConfigError> {
        let dev = self.dev(ifindex).ok_or(ConfigError::NoDevice)?;
        let announce = dev.up && dev.kind == DevKind::Ethernet;
        let ndev = NeighDev {
            ifindex,
            mac: dev.mac,
            addr,
        };
        self.fib.add_addr(ifindex, addr, prefix_len)?;
        if announce && let Ok(skb) = self.neigh.arp_announce(&ndev, addr) {
            self.dev_queue_xmit(ifindex, skb);
        }
        Ok(())
    }

    /// `ip route add ...`.
    pub fn add_route(&mut self, route: FibRoute) -> Result<(), ConfigError> {
        Ok(self.fib.add_route(route)?)
    }

    /// The sysctls.
    pub fn sysctl(&self) -> &Sysctl {
        &self.sysctl
    }

    /// Sets a sysctl by its Linux name. `ip_forward` (`conf.all.forwarding`) sets every
    /// device's forwarding, and new devices start with it (Linux devinet_sysctl_forward()
    /// → inet_forward_change()); `conf.DEV.NAME` sets one device's [`DevSysctl`].
    pub fn set_sysctl(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        if self.mc_forwarding_sysctl(name)?.is_some() {
            return Err(ConfigError::Sysctl(SysctlError::ReadOnly(name.to_string())));
        }
        match self.dev_sysctl(name)? {
            Some((ifindex, conf)) => {
                let v = conf.parse(name, value)?;
                self.set_dev_sysctl(ifindex, conf, v);
            }
            None => {
                let was = self.sysctl.ip_forward;
                self.sysctl.set(name, value).map_err(ConfigError::Sysctl)?;
                // Linux devinet_sysctl_forward(): only a change reaches the devices.
                let all = (self.sysctl.ip_forward != was).then_some(self.sysctl.ip_forward == 1);
                for ifindex in 1..=self.devs.len() as u32 {
                    self.sync_fib_device(ifindex, all);
                }
            }
        }
        Ok(())
    }

    /// A sysctl's value as `sysctl` prints it, the per-device `conf.DEV.NAME` included.
    pub fn sysctl_value(&self, name: &str) -> Result<String, ConfigError> {
        if let Some(v) = self.mc_forwarding_sysctl(name)? {
            return Ok(v.to_string());
        }
        match self.dev_sysctl(name)? {
            Some((ifindex, conf)) => Ok(self.dev_sysctl_value(ifindex, conf).to_string()),
            None => self.sysctl.render(name).map_err(ConfigError::Sysctl),
        }
    }

    /// Whether [`Stack::set_sysctl`] would take every write, made in order; changes
    /// nothing. On a refusal, the index of the write and why.
    pub fn check_sysctls(&self, writes: &[(&str, &str)]) -> Result<(), (usize, ConfigError)> {
        let mut check = self.sysctl.clone();
        for (i, &(name, value)) in writes.iter().enumerate() {
            if let Ok(Some(_)) = self.mc_forwarding_sysctl(name) {
                return Err((
                    i,
                    ConfigError::Sysctl(SysctlError::ReadOnly(name.to_string())),
                ));
            }
            let done = match self.dev_sysctl(name) {
                Ok(Some((_, conf))) => conf.parse(name, value).map(|_| ()),
                Ok(None) => check.set(name, value).map_err(ConfigError::Sysctl),
                Err(e) => Err(e),
            };
            done.map_err(|e| (i, e))?;
        }
        Ok(())
    }

    /// Linux IN_DEV_FORWARD(): whether `ifindex` forwards (its `conf.DEV.forwarding`).
    pub fn dev_forwarding(&self, ifindex: u32) -> bool {
        self.fib.device(ifindex).is_some_and(|d| d.forwarding)
    }

    /// `[net.ipv4.]conf.{all,DEV}.mc_forwarding`: its value (read-only; MRT_INIT raises
    /// `all`, each vif its device's, as Linux counts them), `None` for another name.
    fn mc_forwarding_sysctl(&self, name: &str) -> Result<Option<u32>, ConfigError> {
        let short = name.strip_prefix("net.ipv4.").unwrap_or(name);
        let dev = short
            .strip_prefix("conf.")
            .and_then(|r| r.strip_suffix(".mc_forwarding"));
        match dev {
            None => Ok(None),
            Some("all") => Ok(Some(self.ipmr.all_mc_forwarding)),
            Some(dev) => match self.dev_by_name(dev) {
                Some(d) => Ok(Some(self.ipmr.dev_mc_forwarding(d.ifindex))),
                None => Err(ConfigError::Sysctl(SysctlError::NoEntry(name.to_string()))),
            },
        }
    }

    /// The device and sysctl a `[net.ipv4.]conf.DEV.NAME` name is about; `None` for any
    /// other name, which is one of [`Sysctl`]'s (`conf.all.NAME` is the stack-wide one).
    /// ENOENT for an unknown device.
    fn dev_sysctl(&self, name: &str) -> Result<Option<(u32, DevSysctl)>, ConfigError> {
        let short = name.strip_prefix("net.ipv4.").unwrap_or(name);
        let Some(rest) = short.strip_prefix("conf.") else {
            return Ok(None);
        };
        let found = DevSysctl::ALL.iter().find_map(|&c| {
            let dev = rest.strip_suffix(c.name())?.strip_suffix('.')?;
            Some((dev, c))
        });
        match found {
            None | Some(("all", _)) => Ok(None),
            Some((dev, conf)) => match self.dev_by_name(dev) {
                Some(d) => Ok(Some((d.ifindex, conf))),
                None => Err(ConfigError::Sysctl(SysctlError::NoEntry(name.to_string()))),
            },
        }
    }

    /// Stores a checked `conf.DEV.NAME` value.
    fn set_dev_sysctl(&mut self, ifindex: u32, conf: DevSysctl, v: i64) {
        if conf == DevSysctl::Forwarding {
            if let Some(mut fdev) = self.fib.device(ifindex).cloned() {
                fdev.forwarding = v == 1;
                self.fib.set_device(fdev);
            }
            return;
        }
        let c = self.mc.devconf.entry(ifindex).or_default();
        // The ranges were checked by DevSysctl::parse().
        match conf {
            DevSysctl::Forwarding => {}
            DevSysctl::ForceIgmpVersion => c.force_igmp_version = v as i32,
            DevSysctl::Igmpv2UnsolicitedReportInterval => {
                c.igmpv2_unsolicited_report_interval = Some(v as u32);
            }
            DevSysctl::Igmpv3UnsolicitedReportInterval => {
                c.igmpv3_unsolicited_report_interval = Some(v as u32);
            }
        }
    }

    /// A device's `conf.DEV.NAME` value: its own, else the stack-wide one.
    fn dev_sysctl_value(&self, ifindex: u32, conf: DevSysctl) -> i64 {
        let c = self.igmp_devconf(ifindex);
        let s = &self.sysctl;
        match conf {
            DevSysctl::Forwarding => i64::from(self.dev_forwarding(ifindex)),
            DevSysctl::ForceIgmpVersion => i64::from(c.force_igmp_version),
            DevSysctl::Igmpv2UnsolicitedReportInterval => i64::from(
                c.igmpv2_unsolicited_report_interval
                    .unwrap_or(s.igmpv2_unsolicited_report_interval),
            ),
            DevSysctl::Igmpv3UnsolicitedReportInterval => i64::from(
                c.igmpv3_unsolicited_report_interval
                    .unwrap_or(s.igmpv3_unsolicited_report_interval),
            ),
        }
    }

    /// Tells routing what it needs to know of a device. Its forwarding is `forwarding`
    /// when given, else what it was (a new device takes `ip_forward`).
    pub(crate) fn sync_fib_device(&mut self, ifindex: u32, forwarding: Option<bool>) {
        let Some(d) = self.dev(ifindex) else { return };
        let s = &self.sysctl;
        let forwarding = forwarding.unwrap_or_else(|| {
            self.fib
                .device(ifindex)
                .map_or(s.ip_forward == 1, |f| f.forwarding)
        });
        let fdev = FibDevice {
            ifindex,
            name: d.name.clone(),
            up: d.up,
            loopback: d.is_loopback(),
            mtu: d.mtu,
            forwarding,
            send_redirects: s.send_redirects == 1,
            accept_local: s.accept_local == 1,
            route_localnet: s.route_localnet == 1,
            rp_filter: s.rp_filter,
            bc_forwarding: s.bc_forwarding == 1,
            mc_forwarding: self.ipmr.dev_mforward(ifindex),
        };
        self.fib.set_device(fdev);
    }
}

/// A per-device sysctl, `[net.ipv4.]conf.DEV.NAME`: Linux's `IPV4_DEVCONF_*` that skiff
/// keeps per device. The others of `conf.all.*` apply to every device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DevSysctl {
    /// IN_DEV_FORWARD(); `conf.all.forwarding` is `ip_forward`.
    Forwarding,
    /// 1 or 2 forces that IGMP version on the device (either level counts).
    ForceIgmpVersion,
    /// Linux unsolicited_report_interval() in v1/v2 and in v3 mode, in ms.
    Igmpv2UnsolicitedReportInterval,
    Igmpv3UnsolicitedReportInterval,
}

impl DevSysctl {
    const ALL: [DevSysctl; 4] = [
        DevSysctl::Forwarding,
        DevSysctl::ForceIgmpVersion,
        DevSysctl::Igmpv2UnsolicitedReportInterval,
        DevSysctl::Igmpv3UnsolicitedReportInterval,
    ];

    fn name(self) -> &'static str {
        match self {
            DevSysctl::Forwarding => "forwarding",
            DevSysctl::ForceIgmpVersion => "force_igmp_version",
            DevSysctl::Igmpv2UnsolicitedReportInterval => "igmpv2_unsolicited_report_interval",
            DevSysctl::Igmpv3UnsolicitedReportInterval => "igmpv3_unsolicited_report_interval",
        }
    }

    /// A value as Linux's devinet_conf_proc() (proc_dointvec) reads it: an integer in the
    /// range of its `conf.all` twin (forwarding 0 or 1). EINVAL otherwise.
    fn parse(self, name: &str, value: &str) -> Result<i64, ConfigError> {
        let (min, max) = match self {
            DevSysctl::Forwarding => (0, 1),
            DevSysctl::ForceIgmpVersion => (i64::from(i32::MIN), i64::from(i32::MAX)),
            DevSysctl::Igmpv2UnsolicitedReportInterval
            | DevSysctl::Igmpv3UnsolicitedReportInterval => (0, i64::from(i32::MAX)),
        };
        match value.trim().parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(ConfigError::Sysctl(SysctlError::Invalid(
                name.to_string(),
                value.to_string(),
            ))),
        }
    }
}
