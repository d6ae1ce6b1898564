//! SPDX 2.3 JSON.
//!
//! The image is the described package (`primaryPackagePurpose: CONTAINER`, its manifest digest
//! as a SHA256 checksum, `filesAnalyzed: true` with the verification code over its files); it
//! CONTAINS every file and every package. A Go binary's file CONTAINS the modules linked into
//! it; a main module or crate DEPENDS_ON its dependencies. Files carry SHA1 (required by SPDX
//! 2.3) and SHA256.

use serde_json::{Value, json};
use sha1::Digest as _;

use crate::{Ecosystem, Sbom};

/// A declared license as SPDX wants it: an expression of license ids (`LicenseRef-…` included),
/// `AND`/`OR`/`WITH` and parentheses; anything else is NOASSERTION.
fn license(l: &[String]) -> Value {
    let valid = |s: &str| {
        let spaced = s.replace('(', " ( ").replace(')', " ) ");
        let mut depth = 0i32;
        let mut want_id = true;
        for t in spaced.split_whitespace() {
            match t {
                "(" if want_id => depth += 1,
                ")" if !want_id => {
                    depth -= 1;
                    if depth < 0 {
                        return false;
                    }
                }
                "AND" | "OR" | "WITH" if !want_id => want_id = true,
                id if want_id
                    && id.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | ':')
                    }) =>
                {
                    want_id = false
                }
                _ => return false,
            }
        }
        depth == 0 && !want_id
    };
    match l {
        [one] if valid(one) => json!(one),
        _ => json!("NOASSERTION"),
    }
}

/// The SPDX 2.3 JSON document.
pub fn document(sbom: &Sbom) -> Value {
    let mut packages = Vec::new();
    let mut files = Vec::new();
    let mut rels = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    })];
    // Verification code: sha1 over the sorted sha1s of the package's files (SPDX 2.3 §7.9).
    let mut sha1s: Vec<&str> = sbom.files.iter().map(|f| f.sha1.as_str()).collect();
    sha1s.sort_unstable();
    let code: String = sha1::Sha1::digest(sha1s.concat().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut image = json!({
        "SPDXID": "SPDXRef-Image",
        "name": sbom.name,
        "versionInfo": sbom.digest.to_string(),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": true,
        "packageVerificationCode": {"packageVerificationCodeValue": code},
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "CONTAINER",
        "checksums": [{"algorithm": "SHA256", "checksumValue": sbom.digest.hex()}],
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": crate::image_purl(&sbom.name, &sbom.digest, sbom.platform.as_deref()),
        }],
    });
    if let Some(p) = &sbom.platform {
        image["comment"] = json!(format!("platform {p}"));
    }
    packages.push(image);
    let mut file_ids = std::collections::BTreeMap::new();
    for (i, f) in sbom.files.iter().enumerate() {
        let id = format!("SPDXRef-File-{}", i + 1);
        file_ids.insert(f.path.clone(), id.clone());
        files.push(json!({
            "SPDXID": id,
            "fileName": format!(".{}", f.path),
            "checksums": [
                {"algorithm": "SHA1", "checksumValue": f.sha1},
                {"algorithm": "SHA256", "checksumValue": f.sha256},
            ],
            "licenseConcluded": "NOASSERTION",
            "copyrightText": "NOASSERTION",
        }));
        rels.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    if let Some((id, version)) = &sbom.os {
        let mut os = json!({
            "SPDXID": "SPDXRef-OperatingSystem",
            "name": id,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "OPERATING-SYSTEM",
            "sourceInfo": "found in /etc/os-release",
        });
        if let Some(v) = version {
            os["versionInfo"] = json!(v);
        }
        packages.push(os);
        rels.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": "SPDXRef-OperatingSystem",
        }));
    }
    let pkg_id = |i: usize| {
        format!(
            "SPDXRef-Package-{}-{}",
            sbom.packages[i].ecosystem.as_str(),
            i + 1
        )
    };
    for (i, p) in sbom.packages.iter().enumerate() {
        let id = pkg_id(i);
        let mut v = json!({
            "SPDXID": id,
            "name": p.name,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": license(&p.licenses),
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": if p.main { "APPLICATION" } else { "LIBRARY" },
            "sourceInfo": format!("found in {}", p.location),
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": p.purl,
            }],
        });
        if let Some(ver) = &p.version {
            v["versionInfo"] = json!(ver);
        }
        if let Some(h) = &p.sha256 {
            v["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": h}]);
        }
        if !p.properties.is_empty() {
            v["comment"] = json!(
                p.properties
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        packages.push(v);
        rels.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
        if matches!(p.ecosystem, Ecosystem::Golang | Ecosystem::Cargo)
            && let Some(fid) = file_ids.get(&p.location)
        {
            rels.push(json!({
                "spdxElementId": fid,
                "relationshipType": "CONTAINS",
                "relatedSpdxElement": id,
            }));
        }
        for d in &p.depends_on {
            rels.push(json!({
                "spdxElementId": id,
                "relationshipType": if sbom.packages[*d].build_only { "BUILD_DEPENDENCY_OF" } else { "DEPENDS_ON" },
                "relatedSpdxElement": pkg_id(*d),
            }));
            if sbom.packages[*d].build_only {
                // BUILD_DEPENDENCY_OF reads the other way round.
                let last = rels.last_mut().expect("just pushed");
                last["spdxElementId"] = json!(pkg_id(*d));
                last["relatedSpdxElement"] = json!(id);
            }
        }
    }
    let title = match &sbom.platform {
        Some(p) => format!("{}@{} ({p})", sbom.name, sbom.digest),
        None => format!("{}@{}", sbom.name, sbom.digest),
    };
    // Every `LicenseRef-` used is defined in the document, as SPDX requires.
    let mut refs: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for p in &packages {
        if let Some(l) = p["licenseDeclared"].as_str() {
            for t in l.split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
                if t.starts_with("LicenseRef-") {
                    refs.insert(t.to_owned());
                }
            }
        }
    }
    let extracted: Vec<Value> = refs
        .iter()
        .map(|r| {
            json!({
                "licenseId": r,
                "name": r.trim_start_matches("LicenseRef-"),
                "extractedText": format!(
                    "The license named `{}` by the package's copyright or database entry; its text is in the image.",
                    r.trim_start_matches("LicenseRef-")
                ),
            })
        })
        .collect();
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": title,
        "documentNamespace": format!(
            "https://spdx.org/spdxdocs/slipway-{}-{}",
            sbom.name.replace(['/', ':', '@'], "-"),
            sbom.uuid("spdx")
        ),
        "creationInfo": {
            "created": sbom.created,
            "creators": [format!("Tool: slipway-{}", sbom.tool_version)],
        },
        "packages": packages,
        "files": files,
        "relationships": rels,
    });
    if !extracted.is_empty() {
        doc["hasExtractedLicensingInfos"] = json!(extracted);
    }
    doc
}
