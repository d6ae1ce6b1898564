//! The fingerprint of a machine.
//!
//! | component | read from |
//! |---|---|
//! | `dmi.product_uuid` | `sys/class/dmi/id/product_uuid` (lower-cased; usually root-only) |
//! | `dmi.board_serial` | `sys/class/dmi/id/board_serial` (usually root-only) |
//! | `machine_id` | `etc/machine-id` |
//! | `nic.<name>` | `sys/class/net/<name>/address` for interfaces with a `device` link (physical), not veth/docker/bridge |
//! | `cpu` | `proc/cpuinfo`: model name and the number of processors |
//! | `disk.root` | the serial of the disk holding `/`: `proc/self/mountinfo` gives the root's device (`MAJ:MIN`, else its source); the device is found under `sys/block` (a partition leads to its disk, a device-mapper device to the disk of its first slave), and its `serial`, `device/serial`, `wwid` or `device/wwid` is read |
//! | `tpm.ek` | TPM 1.2: `sys/class/tpm/tpm0/device/pubek` (or `tpm0/pubek`). TPM 2.0 exposes no endorsement key in sysfs: it is reported as present but not read |
//!
//! Each value is hashed with its name (`sha256("slipway-fp-v1\0" + name + "\0" + value)`); the id
//! is sha256 over the sorted component hashes, one per line. Unreadable components (most need no
//! privileges; DMI serials often do) are listed as missing with the reason, never fatal.
//!
//! `cpu` describes a machine, it does not identify one (every VM of a size shares it): it is part
//! of the id but never counts towards a component match, and a machine with nothing but `cpu`
//! cannot be bound (see [`Fingerprint::identifying`]).

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// The component that describes rather than identifies a machine.
pub const CPU: &str = "cpu";

/// A component: its name and the hash of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// e.g. `machine_id`, `nic.eth0`.
    pub name: String,
    /// `sha256:<hex>` of the domain-separated value.
    pub hash: String,
}

/// A machine's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fingerprint {
    /// `sha256:<hex>` over the sorted component hashes.
    pub id: String,
    /// Component hashes by name.
    pub components: BTreeMap<String, String>,
    /// Components that could not be read.
    pub missing: Vec<String>,
    /// Why a component is missing, or where it was found (`disk.root`: the device), by name.
    /// Never a raw value.
    pub notes: BTreeMap<String, String>,
}

impl Fingerprint {
    /// The first 12 hex digits of the id (for labels such as `slipway-fp-<short>`).
    pub fn short(&self) -> &str {
        let hex = self.id.trim_start_matches("sha256:");
        &hex[..12.min(hex.len())]
    }

    /// The components that identify the machine: all but `cpu`.
    pub fn identifying(&self) -> impl Iterator<Item = (&String, &String)> {
        self.components.iter().filter(|(n, _)| n.as_str() != CPU)
    }

    /// Why this fingerprint cannot bind a machine, if it cannot: nothing but `cpu` (or nothing at
    /// all) was readable, so every such machine looks the same.
    pub fn unbindable(&self) -> Option<String> {
        if self.identifying().next().is_some() {
            return None;
        }
        let found = if self.components.is_empty() {
            "no component could be read".to_owned()
        } else {
            "only the CPU model could be read, which identical machines share".to_owned()
        };
        Some(format!(
            "this machine's fingerprint identifies nothing: {found} (missing: {})",
            self.missing.join(", ")
        ))
    }
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of one component value.
pub fn component_hash(name: &str, value: &str) -> String {
    format!(
        "sha256:{}",
        sha256_hex(&[
            b"slipway-fp-v1\0",
            name.as_bytes(),
            b"\0",
            value.trim().as_bytes()
        ])
    )
}

/// Why a value could not be used.
enum Unread {
    /// No such file (or directory).
    Absent,
    /// The file is there but reading it failed (usually: permission denied).
    Denied(std::io::Error),
    /// Empty, or a firmware placeholder that identifies nothing.
    Placeholder,
}

impl Unread {
    fn why(&self, rel: &str) -> String {
        match self {
            Unread::Absent => format!("{rel} does not exist"),
            Unread::Denied(e) => format!("{rel} is not readable ({e}); it usually needs root"),
            Unread::Placeholder => format!("{rel} holds no usable value (empty or a placeholder)"),
        }
    }
}

fn read(root: &Path, rel: &str) -> Result<String, Unread> {
    let v = std::fs::read_to_string(root.join(rel)).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Unread::Absent
        } else {
            Unread::Denied(e)
        }
    })?;
    let v = v.trim();
    // Firmware placeholders identify nothing.
    let junk = [
        "",
        "None",
        "Not Specified",
        "To be filled by O.E.M.",
        "Default string",
        "0",
        "00000000-0000-0000-0000-000000000000",
        "03000200-0400-0500-0006-000700080009",
    ];
    if junk.iter().any(|j| j.eq_ignore_ascii_case(v)) {
        return Err(Unread::Placeholder);
    }
    Ok(v.to_owned())
}

fn dir_names(root: &Path, rel: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join(rel))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Reads the fingerprint of the machine whose filesystem is at `root` (`/` for this machine).
pub fn collect(root: &Path) -> Fingerprint {
    fn take(fp: &mut Fingerprint, name: &str, value: Result<String, String>) {
        match value {
            Ok(v) => {
                fp.components
                    .insert(name.to_owned(), component_hash(name, &v));
            }
            Err(why) => {
                fp.missing.push(name.to_owned());
                fp.notes.insert(name.to_owned(), why);
            }
        }
    }
    let mut fp = Fingerprint::default();
    let file = |rel: &str| read(root, rel).map_err(|u| u.why(rel));
    take(
        &mut fp,
        "dmi.product_uuid",
        file("sys/class/dmi/id/product_uuid").map(|v| v.to_ascii_lowercase()),
    );
    take(
        &mut fp,
        "dmi.board_serial",
        file("sys/class/dmi/id/board_serial"),
    );
    take(&mut fp, "machine_id", file("etc/machine-id"));
    // Physical NICs: a `device` link; not virtual (veth, docker, bridges, tunnels).
    let mut nics = 0;
    for n in dir_names(root, "sys/class/net") {
        let virtual_name = [
            "veth", "docker", "br-", "virbr", "lo", "tun", "tap", "cni", "flannel",
        ]
        .iter()
        .any(|p| n.starts_with(p));
        let dir = root.join("sys/class/net").join(&n);
        if virtual_name || !dir.join("device").exists() {
            continue;
        }
        if let Ok(mac) = read(root, &format!("sys/class/net/{n}/address"))
            && mac != "00:00:00:00:00:00"
        {
            take(&mut fp, &format!("nic.{n}"), Ok(mac.to_ascii_lowercase()));
            nics += 1;
        }
    }
    if nics == 0 {
        take(
            &mut fp,
            "nic",
            Err(
                "no physical network interface (one with a device link under sys/class/net)".into(),
            ),
        );
    }
    let cpu = std::fs::read_to_string(root.join("proc/cpuinfo"))
        .map_err(|e| format!("proc/cpuinfo: {e}"))
        .and_then(|c| {
            let model = c
                .lines()
                .find_map(|l| {
                    l.strip_prefix("model name")
                        .and_then(|r| r.split_once(':'))
                        .map(|(_, m)| m.trim().to_owned())
                })
                .ok_or_else(|| "proc/cpuinfo has no model name".to_owned())?;
            let count = c.lines().filter(|l| l.starts_with("processor")).count();
            Ok(format!("{model} x{count}"))
        });
    take(&mut fp, CPU, cpu);
    match root_disk_serial(root) {
        Ok((dev, serial)) => {
            take(&mut fp, "disk.root", Ok(serial));
            fp.notes
                .insert("disk.root".into(), format!("the disk holding / is {dev}"));
        }
        Err(why) => take(&mut fp, "disk.root", Err(why)),
    }
    take(&mut fp, "tpm.ek", tpm_ek(root));
    let mut hashes: Vec<&str> = fp.components.values().map(String::as_str).collect();
    hashes.sort_unstable();
    let joined = hashes.join("\n");
    fp.id = format!("sha256:{}", sha256_hex(&[joined.as_bytes()]));
    fp
}

/// The root mount's device number (`MAJ:MIN`) and source, from `proc/self/mountinfo` (the last
/// mount on `/` is the visible one).
fn root_mount(root: &Path) -> Result<(String, String), String> {
    let rel = "proc/self/mountinfo";
    let text = std::fs::read_to_string(root.join(rel)).map_err(|e| format!("{rel}: {e}"))?;
    text.lines()
        .filter_map(|l| {
            // id parent MAJ:MIN root mountpoint options [optional...] - fstype source superopts
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-")?;
            (f.get(4) == Some(&"/")).then(|| {
                (
                    f.get(2).copied().unwrap_or_default().to_owned(),
                    f.get(sep + 2).copied().unwrap_or_default().to_owned(),
                )
            })
        })
        .next_back()
        .ok_or_else(|| format!("{rel} lists no mount on /"))
}

/// A block device by name: a disk under `sys/block/<name>`, or a partition under
/// `sys/block/<disk>/<name>`; returns the disk's name.
fn disk_of(root: &Path, name: &str, depth: u8) -> Option<String> {
    if depth > 8 {
        return None;
    }
    if root.join("sys/block").join(name).is_dir() {
        // Device mapper (LVM, LUKS) and md: the disk of the first device it is built on.
        let slaves = dir_names(root, &format!("sys/block/{name}/slaves"));
        if let Some(s) = slaves.first() {
            return disk_of(root, s, depth + 1);
        }
        return Some(name.to_owned());
    }
    dir_names(root, "sys/block").into_iter().find(|d| {
        root.join("sys/block")
            .join(d)
            .join(name)
            .join("partition")
            .exists()
    })
}

/// The device named by `MAJ:MIN` under `sys/block` (disks and their partitions).
fn device_by_number(root: &Path, majmin: &str) -> Option<String> {
    let dev = |rel: String| read(root, &rel).ok().is_some_and(|d| d == majmin);
    for d in dir_names(root, "sys/block") {
        if dev(format!("sys/block/{d}/dev")) {
            return Some(d);
        }
        for p in dir_names(root, &format!("sys/block/{d}")) {
            if root.join(format!("sys/block/{d}/{p}/partition")).exists()
                && dev(format!("sys/block/{d}/{p}/dev"))
            {
                return Some(p);
            }
        }
    }
    None
}

/// The device a mount source such as `/dev/nvme0n1p2` or `/dev/mapper/vg-root` names.
fn device_by_source(root: &Path, source: &str) -> Option<String> {
    if let Some(mapped) = source.strip_prefix("/dev/mapper/") {
        return dir_names(root, "sys/block").into_iter().find(|d| {
            read(root, &format!("sys/block/{d}/dm/name"))
                .ok()
                .as_deref()
                == Some(mapped)
        });
    }
    let name = source.strip_prefix("/dev/")?;
    (!name.contains('/')).then(|| name.to_owned())
}

fn root_disk_serial(root: &Path) -> Result<(String, String), String> {
    let (majmin, source) = root_mount(root)?;
    let device = device_by_number(root, &majmin)
        .or_else(|| device_by_source(root, &source))
        .ok_or_else(|| {
            format!("/ is not on a block device under sys/block (device {majmin}, source {source}: an overlay, tmpfs or network root)")
        })?;
    let disk = disk_of(root, &device, 0)
        .ok_or_else(|| format!("the root device {device} is not under sys/block"))?;
    let mut why = Vec::new();
    for rel in ["serial", "device/serial", "wwid", "device/wwid"] {
        match read(root, &format!("sys/block/{disk}/{rel}")) {
            Ok(v) => return Ok((disk, v)),
            Err(Unread::Denied(e)) => why.push(format!("{rel}: {e}")),
            Err(_) => {}
        }
    }
    Err(if why.is_empty() {
        format!("the disk holding / ({disk}) reports no serial or WWID")
    } else {
        format!(
            "the serial of the disk holding / ({disk}) is not readable ({})",
            why.join("; ")
        )
    })
}

/// TPM 1.2 exposes its public endorsement key in sysfs (readable by anyone unless the TPM is
/// owned). TPM 2.0 does not: its EK (or the EK certificate in NV index 0x01c00002) is read
/// through `/dev/tpmrm0` (root or the `tss` group) with tpm2-tools, which Slipway does not do.
fn tpm_ek(root: &Path) -> Result<String, String> {
    let chip = "sys/class/tpm/tpm0";
    if !root.join(chip).exists() {
        return Err(format!("no TPM ({chip} does not exist)"));
    }
    let major = read(root, &format!("{chip}/tpm_version_major")).ok();
    if major.as_deref() == Some("2") {
        return Err("TPM 2.0 present; its endorsement key is not in sysfs and is not read (it needs /dev/tpmrm0 access and tpm2-tools, e.g. tpm2_nvread 0x01c00002 for the EK certificate)".into());
    }
    let mut why = Vec::new();
    for rel in [format!("{chip}/device/pubek"), format!("{chip}/pubek")] {
        match read(root, &rel) {
            // The kernel prints the key as hex bytes over several lines; the spacing is not part
            // of the key.
            Ok(v) => return Ok(v.split_whitespace().collect::<Vec<_>>().join(" ")),
            Err(Unread::Absent) => {}
            Err(u) => why.push(u.why(&rel)),
        }
    }
    Err(match major.as_deref() {
        Some(v) => format!(
            "TPM {v}.x present; its public endorsement key is not readable{} (an owned TPM 1.2 withholds it)",
            if why.is_empty() {
                String::new()
            } else {
                format!(": {}", why.join("; "))
            }
        ),
        None => format!(
            "a TPM is present but neither its version nor an endorsement key is readable{}",
            if why.is_empty() {
                String::new()
            } else {
                format!(": {}", why.join("; "))
            }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn w(root: &Path, rel: &str, v: &str) {
        let f = root.join(rel);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, format!("{v}\n")).unwrap();
    }

    fn mkdir(root: &Path, rel: &str) {
        std::fs::create_dir_all(root.join(rel)).unwrap();
    }

    fn mount_root(root: &Path, majmin: &str, source: &str) {
        w(
            root,
            "proc/self/mountinfo",
            &format!(
                "22 27 0:21 / /proc rw,relatime - proc proc rw\n\
                 27 1 {majmin} / / rw,relatime shared:1 - ext4 {source} rw\n\
                 28 27 0:25 / /tmp rw - tmpfs tmpfs rw"
            ),
        );
    }

    fn base() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().to_path_buf();
        w(&r, "etc/machine-id", "0f8d3c1e6b2a4e9f8c7d6e5f4a3b2c1d");
        (d, r)
    }

    #[test]
    fn virtual_nics_and_placeholders_are_not_components() {
        let (_d, r) = base();
        for (n, mac, device) in [
            ("eth0", "52:54:00:12:34:56", true),
            ("wlan0", "00:00:00:00:00:00", true),
            ("veth1a2b", "aa:bb:cc:dd:ee:01", true),
            ("docker0", "02:42:ac:11:00:02", false),
            ("br-1234", "02:42:ac:11:00:03", true),
            ("usb0", "aa:bb:cc:dd:ee:02", false),
        ] {
            w(&r, &format!("sys/class/net/{n}/address"), mac);
            if device {
                mkdir(&r, &format!("sys/class/net/{n}/device"));
            }
        }
        w(
            &r,
            "sys/class/dmi/id/product_uuid",
            "03000200-0400-0500-0006-000700080009",
        );
        w(
            &r,
            "sys/class/dmi/id/board_serial",
            "To be filled by O.E.M.",
        );
        let fp = collect(&r);
        let names: Vec<&str> = fp.components.keys().map(String::as_str).collect();
        assert_eq!(names, ["machine_id", "nic.eth0"]);
        assert!(fp.missing.contains(&"dmi.product_uuid".to_owned()));
        assert!(
            fp.notes["dmi.board_serial"].contains("placeholder"),
            "{:?}",
            fp.notes
        );
        // The MAC is hashed lower-case: the same machine whatever case the kernel prints.
        assert_eq!(
            fp.components["nic.eth0"],
            component_hash("nic.eth0", "52:54:00:12:34:56")
        );
    }

    #[test]
    fn the_root_disk_is_the_one_holding_slash_not_the_first_one() {
        let (_d, r) = base();
        // sda sorts first but holds nothing; / is on the second partition of nvme0n1.
        w(&r, "sys/block/sda/dev", "8:0");
        w(&r, "sys/block/sda/device/serial", "SDA-SERIAL");
        w(&r, "sys/block/nvme0n1/dev", "259:0");
        w(&r, "sys/block/nvme0n1/device/serial", "NVME-SERIAL");
        for (p, n) in [("nvme0n1p1", "259:1"), ("nvme0n1p2", "259:2")] {
            w(&r, &format!("sys/block/nvme0n1/{p}/dev"), n);
            w(&r, &format!("sys/block/nvme0n1/{p}/partition"), &n[4..]);
        }
        mount_root(&r, "259:2", "/dev/nvme0n1p2");
        let fp = collect(&r);
        assert_eq!(
            fp.components["disk.root"],
            component_hash("disk.root", "NVME-SERIAL")
        );
        assert_eq!(fp.notes["disk.root"], "the disk holding / is nvme0n1");

        // Root on LVM: the device-mapper device leads to the disk of its slave.
        w(&r, "sys/block/dm-0/dev", "253:0");
        w(&r, "sys/block/dm-0/dm/name", "vg-root");
        mkdir(&r, "sys/block/dm-0/slaves/sda1");
        w(&r, "sys/block/sda/sda1/dev", "8:1");
        w(&r, "sys/block/sda/sda1/partition", "1");
        mount_root(&r, "253:0", "/dev/mapper/vg-root");
        assert_eq!(
            collect(&r).components["disk.root"],
            component_hash("disk.root", "SDA-SERIAL")
        );
        // Btrfs reports an anonymous device number: the mount source names the device.
        mount_root(&r, "0:31", "/dev/mapper/vg-root");
        assert_eq!(
            collect(&r).components["disk.root"],
            component_hash("disk.root", "SDA-SERIAL")
        );
        // virtio-blk keeps its serial on the disk itself.
        w(&r, "sys/block/vda/dev", "254:0");
        w(&r, "sys/block/vda/serial", "VIRTIO-SERIAL");
        mount_root(&r, "254:0", "/dev/vda");
        assert_eq!(
            collect(&r).components["disk.root"],
            component_hash("disk.root", "VIRTIO-SERIAL")
        );
    }

    #[test]
    fn a_root_without_a_disk_is_reported_not_replaced_by_another_disk() {
        let (_d, r) = base();
        w(&r, "sys/block/sda/dev", "8:0");
        w(&r, "sys/block/sda/device/serial", "SDA-SERIAL");
        mount_root(&r, "0:52", "overlay");
        let fp = collect(&r);
        assert!(!fp.components.contains_key("disk.root"));
        assert!(
            fp.notes["disk.root"].contains("not on a block device"),
            "{:?}",
            fp.notes
        );
        // A disk without a serial.
        w(&r, "sys/block/vdb/dev", "254:16");
        mount_root(&r, "254:16", "/dev/vdb");
        let fp = collect(&r);
        assert!(
            fp.notes["disk.root"].contains("reports no serial"),
            "{:?}",
            fp.notes
        );
        // No mountinfo at all.
        std::fs::remove_file(r.join("proc/self/mountinfo")).unwrap();
        assert!(collect(&r).notes["disk.root"].contains("proc/self/mountinfo"));
    }

    #[test]
    fn tpm_1_2_pubek_is_a_component_tpm_2_is_reported_present_but_unread() {
        let (_d, r) = base();
        assert!(collect(&r).notes["tpm.ek"].starts_with("no TPM"));
        w(&r, "sys/class/tpm/tpm0/tpm_version_major", "1");
        w(
            &r,
            "sys/class/tpm/tpm0/device/pubek",
            "Algorithm: 00 00 00 01\nModulus length: 256\nModulus:\nB4 76 41 82\n",
        );
        let fp = collect(&r);
        let once = fp.components["tpm.ek"].clone();
        // Line breaks and spacing are formatting, not the key.
        w(
            &r,
            "sys/class/tpm/tpm0/device/pubek",
            "Algorithm: 00 00 00 01 Modulus length: 256 Modulus: B4 76 41 82",
        );
        assert_eq!(collect(&r).components["tpm.ek"], once);
        // An owned TPM 1.2 returns nothing.
        w(&r, "sys/class/tpm/tpm0/device/pubek", "");
        assert!(collect(&r).notes["tpm.ek"].contains("TPM 1.x present"));
        std::fs::remove_file(r.join("sys/class/tpm/tpm0/device/pubek")).unwrap();
        w(&r, "sys/class/tpm/tpm0/tpm_version_major", "2");
        let fp = collect(&r);
        assert!(fp.missing.contains(&"tpm.ek".to_owned()));
        assert!(
            fp.notes["tpm.ek"].starts_with("TPM 2.0 present"),
            "{:?}",
            fp.notes
        );
    }

    #[test]
    fn a_machine_with_only_a_cpu_cannot_be_bound() {
        let d = tempfile::tempdir().unwrap();
        let empty = collect(d.path());
        assert!(empty.components.is_empty());
        assert!(
            empty
                .unbindable()
                .unwrap()
                .contains("no component could be read")
        );
        w(
            d.path(),
            "proc/cpuinfo",
            "processor\t: 0\nmodel name\t: Test CPU\n",
        );
        let cpu = collect(d.path());
        assert_eq!(cpu.components.len(), 1);
        assert!(cpu.unbindable().unwrap().contains("only the CPU model"));
        w(
            d.path(),
            "etc/machine-id",
            "0f8d3c1e6b2a4e9f8c7d6e5f4a3b2c1d",
        );
        assert_eq!(collect(d.path()).unbindable(), None);
    }

    #[test]
    fn an_unreadable_file_is_missing_with_the_reason_not_fatal() {
        let (_d, r) = base();
        // A directory where a file should be reads as an error other than "not found".
        mkdir(&r, "sys/class/dmi/id/board_serial");
        let fp = collect(&r);
        assert!(fp.components.contains_key("machine_id"));
        assert!(
            fp.notes["dmi.board_serial"].contains("not readable"),
            "{:?}",
            fp.notes
        );
    }
}
