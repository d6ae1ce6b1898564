//! The fingerprint of a machine.
//!
//! | component | read from |
//! |---|---|
//! | `dmi.product_uuid` | `sys/class/dmi/id/product_uuid` |
//! | `dmi.board_serial` | `sys/class/dmi/id/board_serial` |
//! | `machine_id` | `etc/machine-id` |
//! | `nic.<name>` | `sys/class/net/<name>/address` for interfaces with a `device` link (physical), not veth/docker/bridge |
//! | `cpu` | `proc/cpuinfo`: model name and the number of processors |
//! | `disk.<dev>` | `sys/block/<dev>/device/serial` (or `…/device/wwid`) of sd*/vd*/nvme* disks |
//! | `tpm.ek` | `sys/class/tpm/tpm0/device/endorsement_key` or `…/pubek` when a TPM exposes it |
//!
//! Each value is hashed with its name (`sha256("slipway-fp-v1\0" + name + "\0" + value)`); the id
//! is sha256 over the sorted component hashes, one per line. Unreadable components (most need no
//! privileges; DMI serials often do) are listed as missing, never fatal.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// A component: its name and the hash of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// e.g. `machine_id`, `nic.eth0`.
    pub name: String,
    /// `sha256:<hex>` of the domain-separated value.
    pub hash: String,
}

/// A machine's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// `sha256:<hex>` over the sorted component hashes.
    pub id: String,
    /// Component hashes by name.
    pub components: BTreeMap<String, String>,
    /// Components that could not be read.
    pub missing: Vec<String>,
}

impl Fingerprint {
    /// The first 12 hex digits of the id (for labels such as `slipway-fp-<short>`).
    pub fn short(&self) -> &str {
        let hex = self.id.trim_start_matches("sha256:");
        &hex[..12.min(hex.len())]
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

fn read(root: &Path, rel: &str) -> Option<String> {
    let v = std::fs::read_to_string(root.join(rel)).ok()?;
    let v = v.trim();
    // Firmware placeholders identify nothing.
    let junk = [
        "",
        "None",
        "Not Specified",
        "To be filled by O.E.M.",
        "Default string",
        "0",
    ];
    (!junk.contains(&v)).then(|| v.to_owned())
}

/// Reads the fingerprint of the machine whose filesystem is at `root` (`/` for this machine).
pub fn collect(root: &Path) -> Fingerprint {
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    let mut missing = Vec::new();
    let mut take = |name: &str, value: Option<String>| match value {
        Some(v) => {
            found.insert(name.to_owned(), component_hash(name, &v));
        }
        None => missing.push(name.to_owned()),
    };
    take(
        "dmi.product_uuid",
        read(root, "sys/class/dmi/id/product_uuid").map(|v| v.to_ascii_lowercase()),
    );
    take(
        "dmi.board_serial",
        read(root, "sys/class/dmi/id/board_serial"),
    );
    take("machine_id", read(root, "etc/machine-id"));
    // Physical NICs: a `device` link; not virtual (veth, docker, bridges, tunnels).
    let mut nics = 0;
    if let Ok(entries) = std::fs::read_dir(root.join("sys/class/net")) {
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let virtual_name = [
                "veth", "docker", "br-", "virbr", "lo", "tun", "tap", "cni", "flannel",
            ]
            .iter()
            .any(|p| n.starts_with(p));
            let dir = root.join("sys/class/net").join(&n);
            if virtual_name || !dir.join("device").exists() {
                continue;
            }
            if let Some(mac) = read(root, &format!("sys/class/net/{n}/address"))
                && mac != "00:00:00:00:00:00"
            {
                take(&format!("nic.{n}"), Some(mac.to_ascii_lowercase()));
                nics += 1;
            }
        }
    }
    if nics == 0 {
        take("nic", None);
    }
    let cpu = std::fs::read_to_string(root.join("proc/cpuinfo"))
        .ok()
        .and_then(|c| {
            let model = c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .and_then(|r| r.split_once(':'))
                    .map(|(_, m)| m.trim().to_owned())
            })?;
            let count = c.lines().filter(|l| l.starts_with("processor")).count();
            Some(format!("{model} x{count}"))
        });
    take("cpu", cpu);
    let mut disks = 0;
    if let Ok(entries) = std::fs::read_dir(root.join("sys/block")) {
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("sd") || n.starts_with("vd") || n.starts_with("nvme"))
            .collect();
        names.sort();
        if let Some(first) = names.first() {
            let serial = read(root, &format!("sys/block/{first}/device/serial"))
                .or_else(|| read(root, &format!("sys/block/{first}/serial")))
                .or_else(|| read(root, &format!("sys/block/{first}/device/wwid")));
            if serial.is_some() {
                take(&format!("disk.{first}"), serial);
                disks += 1;
            }
        }
    }
    if disks == 0 {
        take("disk", None);
    }
    let tpm = read(root, "sys/class/tpm/tpm0/device/endorsement_key")
        .or_else(|| read(root, "sys/class/tpm/tpm0/device/pubek"));
    take("tpm.ek", tpm);
    let mut hashes: Vec<&str> = found.values().map(String::as_str).collect();
    hashes.sort_unstable();
    let joined = hashes.join("\n");
    Fingerprint {
        id: format!("sha256:{}", sha256_hex(&[joined.as_bytes()])),
        components: found,
        missing,
    }
}
