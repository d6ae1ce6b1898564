//! CycloneDX 1.6 JSON.
//!
//! The image is `metadata.component` (type `container`); packages are `library` components
//! (`application` for a Go main module or a root crate) with purls, hashes, licenses, where they
//! were found (`evidence.occurrences`) and `slipway:` properties; files are `file` components
//! with SHA-1 and SHA-256; the distribution (os-release) is an `operating-system` component.
//! `dependencies` records the image's direct packages and each module's
//! or crate's dependencies. Build-only crates have `scope: excluded`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::Sbom;

/// The CycloneDX 1.6 JSON document.
pub fn document(sbom: &Sbom) -> Value {
    let mut used = BTreeSet::new();
    let refs: Vec<String> = sbom
        .packages
        .iter()
        .map(|p| {
            let base = format!("{}#{}", p.purl, p.location);
            let mut r = base.clone();
            let mut n = 1;
            while !used.insert(r.clone()) {
                n += 1;
                r = format!("{base}-{n}");
            }
            r
        })
        .collect();
    let image_ref = format!("image:{}", sbom.digest);
    let mut components = Vec::new();
    for (i, p) in sbom.packages.iter().enumerate() {
        let mut c = json!({
            "type": if p.main { "application" } else { "library" },
            "bom-ref": refs[i],
            "name": p.name,
            "purl": p.purl,
            "evidence": {"occurrences": [{"location": p.location}]},
        });
        if let Some(v) = &p.version {
            c["version"] = json!(v);
        }
        if let Some(h) = &p.sha256 {
            c["hashes"] = json!([{"alg": "SHA-256", "content": h}]);
        }
        if let [l] = p.licenses.as_slice() {
            c["licenses"] = json!([{"expression": l}]);
        }
        if let Some(s) = &p.supplier {
            c["supplier"] = json!({"name": s});
        }
        if p.build_only {
            c["scope"] = json!("excluded");
        }
        let mut props = vec![json!({"name": "slipway:ecosystem", "value": p.ecosystem.as_str()})];
        props.extend(
            p.properties
                .iter()
                .map(|(k, v)| json!({"name": format!("slipway:{k}"), "value": v})),
        );
        c["properties"] = json!(props);
        components.push(c);
    }
    if let Some((id, version)) = &sbom.os {
        let mut c = json!({"type": "operating-system", "bom-ref": format!("os:{id}"), "name": id});
        if let Some(v) = version {
            c["version"] = json!(v);
        }
        components.push(c);
    }
    for f in &sbom.files {
        components.push(json!({
            "type": "file",
            "bom-ref": format!("file:{}", f.path),
            "name": f.path,
            "hashes": [
                {"alg": "SHA-1", "content": f.sha1},
                {"alg": "SHA-256", "content": f.sha256},
            ],
            "properties": [
                {"name": "slipway:size", "value": f.size.to_string()},
                {"name": "slipway:mode", "value": format!("{:04o}", f.mode & 0o7777)},
            ],
        }));
    }
    let depended: BTreeSet<usize> = sbom
        .packages
        .iter()
        .flat_map(|p| p.depends_on.iter().copied())
        .collect();
    let mut dependencies = vec![json!({
        "ref": image_ref,
        "dependsOn": (0..sbom.packages.len())
            .filter(|i| !depended.contains(i))
            .map(|i| refs[i].clone())
            .collect::<Vec<_>>(),
    })];
    for (i, p) in sbom.packages.iter().enumerate() {
        let mut on: Vec<String> = p.depends_on.iter().map(|d| refs[*d].clone()).collect();
        on.sort();
        on.dedup();
        dependencies.push(json!({"ref": refs[i], "dependsOn": on}));
    }
    let mut image = json!({
        "type": "container",
        "bom-ref": image_ref,
        "name": sbom.name,
        "version": sbom.digest.to_string(),
        "purl": crate::image_purl(&sbom.name, &sbom.digest, sbom.platform.as_deref()),
        "hashes": [{"alg": "SHA-256", "content": sbom.digest.hex()}],
    });
    if let Some(p) = &sbom.platform {
        image["properties"] = json!([{"name": "slipway:platform", "value": p}]);
    }
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", sbom.uuid("cyclonedx")),
        "version": 1,
        "metadata": {
            "timestamp": sbom.created,
            "tools": {"components": [{
                "type": "application",
                "name": "slipway",
                "version": sbom.tool_version,
            }]},
            "component": image,
        },
        "components": components,
        "dependencies": dependencies,
    })
}
