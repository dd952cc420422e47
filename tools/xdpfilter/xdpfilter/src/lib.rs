//! xdpfilter's userspace library: rule parsing ([`RuleSpec`]), the mask derivation that
//! turns the rule table into the matching maps ([`Filter::sync`]), and the pinned state
//! (`attach`, [`Filter::open`], `detach`). The binary (`src/main.rs`) is the command line.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use bpfkit::links::Link;
use bpfkit::loader::{Loader, Object};
use bpfkit::maps::{Array, HashMap, LpmKey, LpmTrie, MapData, PerCpuArray};
use serde::Serialize;
use xdpfilter_common::{
    maps, Counters, Rule, ACTION_COUNT, ACTION_DROP, CONFIG_ACTIVE, CONFIG_ANY_DPORT, MAX_RULES,
    RULE_HAS_DPORT, RULE_HAS_DST, RULE_HAS_PROTO, RULE_HAS_SRC, RULE_IN_USE,
};

/// The kernel side, built by build.rs from `../xdpfilter-ebpf`: programs `xdpfilter` (XDP)
/// and `xdpfilter_tc` (tcx ingress), maps named in `xdpfilter_common::maps`.
pub static XDPFILTER_BPF: &[u8] = bpfkit_build::include_ebpf!("xdpfilter");

/// The link's pin name in the pin directory.
pub const LINK_PIN: &str = "link";

/// What went wrong, in words for the command line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule or argument was malformed.
    #[error("{0}")]
    Invalid(String),
    /// No filter is pinned there.
    #[error("no xdpfilter pinned at {0} (run `xdpfilter attach` first)")]
    NotAttached(PathBuf),
    /// A kernel or file operation failed.
    #[error("{what}")]
    Op {
        /// The operation.
        what: String,
        /// The cause.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn op<E: std::error::Error + Send + Sync + 'static>(
    what: impl Into<String>,
) -> impl FnOnce(E) -> Error {
    let what = what.into();
    move |e| Error::Op {
        what,
        source: Box::new(e),
    }
}

/// A CIDR prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The address (host bits cleared).
    pub addr: IpAddr,
    /// Prefix length.
    pub len: u8,
}

impl std::str::FromStr for Cidr {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::Invalid(format!("bad CIDR '{s}': {why}"));
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad("not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            Some(l) => l
                .parse::<u8>()
                .map_err(|_| bad("prefix length is not a number"))?,
            None => max,
        };
        if len > max {
            return Err(bad("prefix length too long"));
        }
        Ok(Cidr {
            addr: mask_addr(addr, len),
            len,
        })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

fn mask_addr(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

impl Cidr {
    fn bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        match self.addr {
            IpAddr::V4(a) => out[..4].copy_from_slice(&a.octets()),
            IpAddr::V6(a) => out = a.octets(),
        }
        out
    }

    fn from_rule(bytes: [u8; 16], len: u8, family: u8) -> Self {
        let addr = if family == 4 {
            IpAddr::V4([bytes[0], bytes[1], bytes[2], bytes[3]].into())
        } else {
            IpAddr::V6(bytes.into())
        };
        Cidr { addr, len }
    }

    /// Whether `self` covers `other` (same family, shorter or equal prefix, same bits).
    fn contains(&self, other: &Cidr) -> bool {
        self.addr.is_ipv4() == other.addr.is_ipv4()
            && self.len <= other.len
            && mask_addr(other.addr, self.len) == self.addr
    }
}

/// The L4 protocol of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// ICMP (1) and ICMPv6 (58).
    Icmp,
}

impl Proto {
    fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Icmp => 1,
        }
    }

    fn from_number(n: u8) -> Option<Self> {
        match n {
            6 => Some(Proto::Tcp),
            17 => Some(Proto::Udp),
            1 => Some(Proto::Icmp),
            _ => None,
        }
    }
}

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Drop (and count).
    Drop,
    /// Count and pass.
    Count,
}

/// A rule as the user writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSpec {
    /// Drop or count.
    pub action: Action,
    /// Source prefix.
    #[serde(serialize_with = "ser_cidr")]
    pub src: Option<Cidr>,
    /// Destination prefix.
    #[serde(serialize_with = "ser_cidr")]
    pub dst: Option<Cidr>,
    /// L4 protocol.
    pub proto: Option<Proto>,
    /// TCP/UDP destination port.
    pub dport: Option<u16>,
}

fn ser_cidr<S: serde::Serializer>(c: &Option<Cidr>, s: S) -> Result<S::Ok, S::Error> {
    match c {
        Some(c) => s.serialize_some(&c.to_string()),
        None => s.serialize_none(),
    }
}

impl RuleSpec {
    /// Checks the combination: one address family; `--dport` needs `--proto tcp|udp`.
    pub fn validate(&self) -> Result<(), Error> {
        if let (Some(s), Some(d)) = (self.src, self.dst) {
            if s.addr.is_ipv4() != d.addr.is_ipv4() {
                return Err(Error::Invalid(
                    "--src and --dst must be of the same address family".into(),
                ));
            }
        }
        if self.dport.is_some() && !matches!(self.proto, Some(Proto::Tcp | Proto::Udp)) {
            return Err(Error::Invalid(
                "--dport needs --proto tcp or --proto udp".into(),
            ));
        }
        Ok(())
    }

    fn family(&self) -> u8 {
        match self.src.or(self.dst) {
            Some(c) if c.addr.is_ipv4() => 4,
            Some(_) => 6,
            None => 0,
        }
    }

    /// The table entry.
    pub fn to_rule(&self) -> Rule {
        let mut r = Rule {
            flags: RULE_IN_USE,
            action: match self.action {
                Action::Drop => ACTION_DROP,
                Action::Count => ACTION_COUNT,
            },
            family: self.family(),
            ..Rule::default()
        };
        if let Some(c) = self.src {
            r.flags |= RULE_HAS_SRC;
            r.src = c.bytes();
            r.src_len = c.len;
        }
        if let Some(c) = self.dst {
            r.flags |= RULE_HAS_DST;
            r.dst = c.bytes();
            r.dst_len = c.len;
        }
        if let Some(p) = self.proto {
            r.flags |= RULE_HAS_PROTO;
            r.proto = p.number();
        }
        if let Some(p) = self.dport {
            r.flags |= RULE_HAS_DPORT;
            r.dport = p;
        }
        r
    }

    /// Back from a table entry (`None` for a free slot or an entry it cannot read).
    pub fn from_rule(r: &Rule) -> Option<Self> {
        if r.flags & RULE_IN_USE == 0 {
            return None;
        }
        Some(RuleSpec {
            action: if r.action == ACTION_DROP {
                Action::Drop
            } else {
                Action::Count
            },
            src: (r.flags & RULE_HAS_SRC != 0).then(|| Cidr::from_rule(r.src, r.src_len, r.family)),
            dst: (r.flags & RULE_HAS_DST != 0).then(|| Cidr::from_rule(r.dst, r.dst_len, r.family)),
            proto: if r.flags & RULE_HAS_PROTO != 0 {
                Proto::from_number(r.proto)
            } else {
                None
            },
            dport: (r.flags & RULE_HAS_DPORT != 0).then_some(r.dport),
        })
    }
}

/// One rule with its id and summed counters.
#[derive(Debug, Clone, Serialize)]
pub struct RuleStats {
    /// The rule id (its slot; the lowest matching id decides).
    pub id: u32,
    /// The rule.
    #[serde(flatten)]
    pub rule: RuleSpec,
    /// Packets it decided (all CPUs).
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// The filter's maps, from a loaded object or from pins.
#[derive(Debug)]
pub struct Filter {
    maps: BTreeMap<&'static str, MapData>,
}

impl Filter {
    /// Takes the maps out of a loaded object (xdpfilter's, or an object with the same maps).
    pub fn from_object(object: &mut Object) -> Result<Self, Error> {
        let mut out = BTreeMap::new();
        for name in maps::ALL {
            let map = object
                .take_map(name)
                .ok_or_else(|| Error::Invalid(format!("object has no map {name}")))?;
            out.insert(name, map);
        }
        Ok(Filter { maps: out })
    }

    /// Opens the maps pinned in `dir`.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        if !dir.join(maps::RULES).exists() {
            return Err(Error::NotAttached(dir.to_owned()));
        }
        let mut out = BTreeMap::new();
        for name in maps::ALL {
            let map =
                MapData::from_pin(dir.join(name)).map_err(op(format!("open pinned map {name}")))?;
            out.insert(name, map);
        }
        Ok(Filter { maps: out })
    }

    /// Pins every map in `dir`.
    pub fn pin(&self, dir: &Path) -> Result<(), Error> {
        for (name, map) in &self.maps {
            map.pin(dir.join(name))
                .map_err(op(format!("pin map {name}")))?;
        }
        Ok(())
    }

    fn map(&self, name: &'static str) -> &MapData {
        &self.maps[name]
    }

    fn rules_table(&self) -> Result<Array<&MapData, Rule>, Error> {
        Array::new(self.map(maps::RULES)).map_err(op("RULES map"))
    }

    /// The rules in the table, by id.
    pub fn rules(&self) -> Result<Vec<(u32, RuleSpec)>, Error> {
        let table = self.rules_table()?;
        let mut out = Vec::new();
        for id in 0..MAX_RULES {
            let r = table.get(id).map_err(op("read RULES"))?;
            if let Some(spec) = RuleSpec::from_rule(&r) {
                out.push((id, spec));
            }
        }
        Ok(out)
    }

    /// Adds a rule in the lowest free slot and returns its id. The rule takes effect only
    /// once every map knows it (its bit in `CONFIG_ACTIVE` is set last).
    pub fn add(&self, spec: &RuleSpec) -> Result<u32, Error> {
        spec.validate()?;
        let used: BTreeSet<u32> = self.rules()?.into_iter().map(|(id, _)| id).collect();
        let id = (0..MAX_RULES)
            .find(|id| !used.contains(id))
            .ok_or_else(|| Error::Invalid(format!("all {MAX_RULES} rule slots are in use")))?;
        let stats: PerCpuArray<&MapData, Counters> =
            PerCpuArray::new(self.map(maps::STATS)).map_err(op("STATS map"))?;
        let zero = bpfkit::maps::PerCpuValues(vec![
            Counters::default();
            bpfkit::maps::possible_cpus()
                .map_err(op("possible CPUs"))?
        ]);
        stats.set(id, &zero, 0).map_err(op("reset STATS"))?;
        self.rules_table()?
            .set(id, &spec.to_rule(), 0)
            .map_err(op("write RULES"))?;
        self.sync()?;
        Ok(id)
    }

    /// Removes rule `id` (its bit leaves `CONFIG_ACTIVE` first).
    pub fn delete(&self, id: u32) -> Result<(), Error> {
        let table = self.rules_table()?;
        if id >= MAX_RULES || table.get(id).map_err(op("read RULES"))?.flags & RULE_IN_USE == 0 {
            return Err(Error::Invalid(format!("no rule {id}")));
        }
        table
            .set(id, &Rule::default(), 0)
            .map_err(op("write RULES"))?;
        self.sync()
    }

    /// Rules with their counters summed over CPUs.
    pub fn stats(&self) -> Result<Vec<RuleStats>, Error> {
        let stats: PerCpuArray<&MapData, Counters> =
            PerCpuArray::new(self.map(maps::STATS)).map_err(op("STATS map"))?;
        let mut out = Vec::new();
        for (id, rule) in self.rules()? {
            let per_cpu = stats.get(id).map_err(op("read STATS"))?;
            out.push(RuleStats {
                id,
                rule,
                packets: per_cpu.0.iter().map(|c| c.packets).sum(),
                bytes: per_cpu.0.iter().map(|c| c.bytes).sum(),
            });
        }
        Ok(out)
    }

    /// Derives every matching map from the rule table. A rule's bit is removed from
    /// `CONFIG_ACTIVE` before the other maps change and added after them, so a packet never
    /// sees a half-installed rule.
    pub fn sync(&self) -> Result<(), Error> {
        let rules = self.rules()?;
        let bit = |id: u32| 1u64 << id;
        let active: u64 = rules.iter().map(|(id, _)| bit(*id)).sum();
        let config: Array<&MapData, u64> =
            Array::new(self.map(maps::CONFIG)).map_err(op("CONFIG map"))?;
        let old_active = config.get(CONFIG_ACTIVE).map_err(op("read CONFIG"))?;
        config
            .set(CONFIG_ACTIVE, &(old_active & active), 0)
            .map_err(op("write CONFIG"))?;

        let any_dport: u64 = rules
            .iter()
            .filter(|(_, r)| r.dport.is_none())
            .map(|(id, _)| bit(*id))
            .sum();
        config
            .set(CONFIG_ANY_DPORT, &any_dport, 0)
            .map_err(op("write CONFIG"))?;

        let proto: Array<&MapData, u64> =
            Array::new(self.map(maps::PROTO)).map_err(op("PROTO map"))?;
        for p in 0..=255u8 {
            let mut m = 0;
            for (id, r) in &rules {
                let ok = match r.proto {
                    None => true,
                    Some(Proto::Icmp) => p == 1 || p == 58,
                    Some(x) => x.number() == p,
                };
                if ok {
                    m |= bit(*id);
                }
            }
            if proto.get(p.into()).map_err(op("read PROTO"))? != m {
                proto.set(p.into(), &m, 0).map_err(op("write PROTO"))?;
            }
        }

        let dport: HashMap<&MapData, u16, u64> =
            HashMap::new(self.map(maps::DPORT)).map_err(op("DPORT map"))?;
        let mut want: BTreeMap<u16, u64> = BTreeMap::new();
        for (id, r) in &rules {
            if let Some(p) = r.dport {
                *want.entry(p).or_default() |= bit(*id);
            }
        }
        let stale: Vec<u16> = dport
            .keys()
            .filter_map(Result::ok)
            .filter(|k| !want.contains_key(k))
            .collect();
        for k in stale {
            dport.remove(&k).map_err(op("delete DPORT"))?;
        }
        for (k, v) in &want {
            dport.insert(k, v, 0).map_err(op("write DPORT"))?;
        }

        self.sync_trie::<4>(maps::SRC4, &rules, |r| r.src, 4)?;
        self.sync_trie::<4>(maps::DST4, &rules, |r| r.dst, 4)?;
        self.sync_trie::<16>(maps::SRC6, &rules, |r| r.src, 6)?;
        self.sync_trie::<16>(maps::DST6, &rules, |r| r.dst, 6)?;

        config
            .set(CONFIG_ACTIVE, &active, 0)
            .map_err(op("write CONFIG"))
    }

    /// One trie: every rule of the family contributes its prefix (or /0 without one); each
    /// prefix's value is the mask of all rules whose prefix covers it, so the longest match
    /// carries every rule the address satisfies.
    fn sync_trie<const N: usize>(
        &self,
        name: &'static str,
        rules: &[(u32, RuleSpec)],
        side: impl Fn(&RuleSpec) -> Option<Cidr>,
        family: u8,
    ) -> Result<(), Error>
    where
        [u8; N]: bpfkit::maps::Pod,
    {
        let any = if family == 4 {
            Cidr {
                addr: IpAddr::V4(0.into()),
                len: 0,
            }
        } else {
            Cidr {
                addr: IpAddr::V6(0u128.into()),
                len: 0,
            }
        };
        let prefixes: Vec<(u32, Cidr)> = rules
            .iter()
            .filter(|(_, r)| r.family() == 0 || r.family() == family)
            .map(|(id, r)| (*id, side(r).unwrap_or(any)))
            .collect();
        let mut want: BTreeMap<(u8, [u8; 16]), u64> = BTreeMap::new();
        for (_, p) in &prefixes {
            let m = prefixes
                .iter()
                .filter(|(_, q)| q.contains(p))
                .map(|(id, _)| 1u64 << id)
                .fold(0, |a, b| a | b);
            want.insert((p.len, p.bytes()), m);
        }
        let trie: LpmTrie<&MapData, [u8; N], u64> =
            LpmTrie::new(self.map(name)).map_err(op(format!("{name} map")))?;
        let key = |len: u8, bytes: &[u8; 16]| {
            let mut data = [0u8; N];
            data.copy_from_slice(&bytes[..N]);
            LpmKey {
                prefix_len: u32::from(len),
                data,
            }
        };
        let stale: Vec<LpmKey<[u8; N]>> = trie
            .keys()
            .filter_map(Result::ok)
            .filter(|k| {
                let mut b = [0u8; 16];
                let data = k.data;
                b[..N].copy_from_slice(&data);
                !want.contains_key(&(k.prefix_len as u8, b))
            })
            .collect();
        for k in stale {
            trie.remove(&k).map_err(op(format!("delete {name}")))?;
        }
        for ((len, bytes), m) in &want {
            trie.insert(&key(*len, bytes), m, 0)
                .map_err(op(format!("write {name}")))?;
        }
        Ok(())
    }
}

/// How `attach` hooks the program in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// XDP in generic (skb) mode.
    XdpSkb,
    /// XDP in the driver.
    XdpDrv,
    /// XDP in the kernel's choice of mode.
    XdpAuto,
    /// tcx ingress.
    TcxIngress,
}

/// `/sys/fs/bpf/xdpfilter/IF` or `ROOT/IF`.
pub fn pin_dir(root: Option<&Path>, iface: &str) -> PathBuf {
    root.unwrap_or(Path::new("/sys/fs/bpf/xdpfilter"))
        .join(iface)
}

/// Mounts bpffs on `/sys/fs/bpf` if nothing is there and `dir` lies below it.
fn ensure_bpffs(dir: &Path) -> Result<(), Error> {
    let base = Path::new("/sys/fs/bpf");
    if !dir.starts_with(base) || bpfkit::pin::is_bpffs(base) {
        return Ok(());
    }
    let c = |s: &str| std::ffi::CString::new(s).expect("no NUL");
    let (src, target, fstype) = (c("bpf"), c("/sys/fs/bpf"), c("bpf"));
    // SAFETY: NUL-terminated strings live for the call; no data argument.
    let ret = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if ret != 0 {
        return Err(op("mount bpffs on /sys/fs/bpf")(
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Loads the filter, attaches it to `iface`, pins link and maps in `dir`. On any failure
/// nothing stays pinned. `token_path`: load through the BPF token of the delegating bpffs
/// mounted there (`--token-path`; `None`: the loader's automatic choice,
/// `$BPFKIT_TOKEN_PATH` or `/sys/fs/bpf` inside a user namespace).
pub fn attach(
    iface: &str,
    hook: Hook,
    dir: &Path,
    token_path: Option<&Path>,
) -> Result<u32, Error> {
    if dir.join(LINK_PIN).exists() {
        return Err(Error::Invalid(format!(
            "xdpfilter is already attached (pins in {})",
            dir.display()
        )));
    }
    ensure_bpffs(dir)?;
    let mut loader = Loader::new();
    if let Some(path) = token_path {
        loader.token_path(path);
    }
    let mut object = loader
        .load(XDPFILTER_BPF, "xdpfilter")
        .map_err(op("load xdpfilter"))?;
    let link = match hook {
        Hook::TcxIngress => {
            use bpfkit::programs::tc::{self, TcAttachMethod, TcHook, TcOptions};
            let options = TcOptions {
                method: TcAttachMethod::Tcx,
                ..TcOptions::default()
            };
            tc::attach(
                prog(&object, "xdpfilter_tc")?,
                iface,
                TcHook::Ingress,
                &options,
            )
        }
        _ => {
            use bpfkit::programs::xdp::{self, XdpAttachMethod, XdpMode, XdpOptions};
            let mode = match hook {
                Hook::XdpSkb => XdpMode::Generic,
                Hook::XdpDrv => XdpMode::Driver,
                _ => XdpMode::Auto,
            };
            let options = XdpOptions {
                mode,
                method: XdpAttachMethod::Link,
                ..XdpOptions::default()
            };
            xdp::attach(prog(&object, "xdpfilter")?, iface, &options)
        }
    }
    .map_err(op(format!("attach to {iface}")))?;
    let filter = Filter::from_object(&mut object)?;
    let pin_all = || -> Result<u32, Error> {
        std::fs::create_dir_all(dir).map_err(op(format!("create {}", dir.display())))?;
        filter.pin(dir)?;
        link.pin(dir.join(LINK_PIN)).map_err(op("pin link"))?;
        let info = link.info().map_err(op("link info"))?;
        Ok(info.id)
    };
    pin_all().inspect_err(|_| {
        let _ = remove_pins(dir);
    })
}

fn prog<'a>(object: &'a Object, name: &str) -> Result<&'a bpfkit::loader::Program, Error> {
    object
        .program(name)
        .ok_or_else(|| Error::Invalid(format!("object has no program {name}")))
}

fn remove_pins(dir: &Path) -> Result<(), Error> {
    for name in maps::ALL.iter().chain([&LINK_PIN]) {
        let p = dir.join(name);
        if p.exists() {
            bpfkit::pin::unpin(&p).map_err(op(format!("unpin {}", p.display())))?;
        }
    }
    if dir.exists() {
        std::fs::remove_dir(dir).map_err(op(format!("remove {}", dir.display())))?;
    }
    Ok(())
}

/// Unpins link and maps: the link detaches once no process holds it.
pub fn detach(dir: &Path) -> Result<(), Error> {
    if !dir.join(LINK_PIN).exists() && !dir.join(maps::RULES).exists() {
        return Err(Error::NotAttached(dir.to_owned()));
    }
    if dir.join(LINK_PIN).exists() {
        // Detach explicitly: a process still holding the link fd must not keep it attached.
        let link = Link::from_pin(dir.join(LINK_PIN)).map_err(op("open pinned link"))?;
        remove_pins(dir)?;
        link.detach().map_err(op("detach link"))?;
        return Ok(());
    }
    remove_pins(dir)
}

/// The pinned link's id and program id (for `list`).
pub fn link_ids(dir: &Path) -> Result<(u32, u32), Error> {
    let link = Link::from_pin(dir.join(LINK_PIN)).map_err(op("open pinned link"))?;
    let info = link.info().map_err(op("link info"))?;
    Ok((info.id, info.prog_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_with_host_bits_cleared_and_reject_bad_input() {
        let c: Cidr = "10.1.2.3/8".parse().unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/8");
        let c: Cidr = "fd00:201::5/64".parse().unwrap();
        assert_eq!(c.to_string(), "fd00:201::/64");
        assert_eq!("192.0.2.1".parse::<Cidr>().unwrap().len, 32);
        for bad in ["10.0.0.0/33", "::/129", "nope/8", "10.0.0.0/x"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        let wide: Cidr = "10.0.0.0/8".parse().unwrap();
        let narrow: Cidr = "10.201.0.0/16".parse().unwrap();
        let v6: Cidr = "::/0".parse().unwrap();
        assert!(wide.contains(&narrow) && !narrow.contains(&wide));
        assert!(!v6.contains(&narrow), "families never contain each other");
    }

    #[test]
    fn rules_round_trip_through_the_table_layout_and_validate() {
        let spec = RuleSpec {
            action: Action::Drop,
            src: Some("fd00:201::/64".parse().unwrap()),
            dst: None,
            proto: Some(Proto::Udp),
            dport: Some(4000),
        };
        let rule = spec.to_rule();
        assert_eq!(rule.family, 6);
        assert_eq!(RuleSpec::from_rule(&rule), Some(spec));
        assert_eq!(RuleSpec::from_rule(&Rule::default()), None);
        let mixed = RuleSpec {
            action: Action::Count,
            src: Some("10.0.0.0/8".parse().unwrap()),
            dst: Some("::/0".parse().unwrap()),
            proto: None,
            dport: None,
        };
        assert!(mixed.validate().is_err());
        let port_without_proto = RuleSpec {
            action: Action::Drop,
            src: None,
            dst: None,
            proto: Some(Proto::Icmp),
            dport: Some(1),
        };
        assert!(port_without_proto.validate().is_err());
    }
}
