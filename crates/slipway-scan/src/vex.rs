//! VEX documents: OpenVEX (0.2.0, and the older string forms) and CycloneDX VEX, and how a
//! statement applies to a finding.
//!
//! An OpenVEX statement names a vulnerability (`name`, `@id` or any of its `aliases`), the
//! products it is about (`@id`, `identifiers.purl`, `hashes`), optionally the subcomponents of a
//! product where the vulnerable code lives, and a status. A CycloneDX VEX `vulnerabilities[]`
//! entry is one statement about the components its `affects[].ref` names (a BOM-Link
//! `urn:cdx:SERIAL/VERSION#PURL` or a `bom-ref` of the same document); `analysis.state`
//! `not_affected`/`false_positive` means not affected, `resolved`/`resolved_with_pedigree`
//! fixed, `exploitable` affected, `in_triage` under investigation.
//!
//! Matching follows OpenVEX and Trivy: a finding in package `L` is suppressed when
//! - a statement's product is `L` itself, or
//! - every path in the dependency graph from `L` up to the image passes through a component `C`
//!   that a statement names as product, with `L` among its subcomponents (or no subcomponents:
//!   then the statement covers all of `C`);
//!
//! and the statement that decides is the latest one (by its timestamp, else its document's; a
//! tie goes to the one read last) among those naming that vulnerability and product: when it
//! says `not_affected` or `fixed` the finding is suppressed, when it says `affected` or
//! `under_investigation` it is not. A purl without a version matches every version; qualifiers
//! in a statement's purl must all be present in the package's. The dependency graph comes from
//! the image's SBOMs ([`Graph::from_sbom`]); without one, only statements about the package
//! itself or about the image (the graph's root) apply — never a guess.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::ScanError;
use crate::report::{Finding, Kind};

/// What a statement says about its products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// The product is not affected.
    NotAffected,
    /// The product contains a fix.
    Fixed,
    /// The product is affected.
    Affected,
    /// The author is looking into it.
    UnderInvestigation,
}

impl Status {
    /// Whether the gate lets a finding through because of it.
    pub fn suppresses(self) -> bool {
        matches!(self, Status::NotAffected | Status::Fixed)
    }

    fn openvex(s: &str) -> Option<Status> {
        Some(match s {
            "not_affected" => Status::NotAffected,
            "fixed" => Status::Fixed,
            "affected" => Status::Affected,
            "under_investigation" => Status::UnderInvestigation,
            _ => return None,
        })
    }

    fn cyclonedx(s: &str) -> Option<Status> {
        Some(match s {
            "not_affected" | "false_positive" => Status::NotAffected,
            "resolved" | "resolved_with_pedigree" => Status::Fixed,
            "exploitable" => Status::Affected,
            "in_triage" => Status::UnderInvestigation,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::NotAffected => "not_affected",
            Status::Fixed => "fixed",
            Status::Affected => "affected",
            Status::UnderInvestigation => "under_investigation",
        })
    }
}

/// A product or subcomponent: how a statement identifies a piece of software.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Component {
    /// `@id` (often a purl).
    pub id: Option<String>,
    /// Values of `identifiers` (`purl`, `cpe22`, `cpe23`).
    pub identifiers: Vec<(String, String)>,
    /// Values of `hashes`.
    pub hashes: Vec<String>,
}

impl Component {
    fn of_id(id: impl Into<String>) -> Component {
        Component {
            id: Some(id.into()),
            ..Component::default()
        }
    }

    /// Whether it identifies the software known by `ident` (a purl, or a hash).
    pub fn matches(&self, ident: &str) -> bool {
        if let Some(id) = &self.id
            && (id == ident || (id.starts_with("pkg:") && purl_matches(id, ident)))
        {
            return true;
        }
        self.identifiers.iter().any(|(kind, v)| {
            v == ident || (kind == "purl" && ident.starts_with("pkg:") && purl_matches(v, ident))
        }) || self.hashes.iter().any(|h| h.eq_ignore_ascii_case(ident))
    }

    fn matches_any(&self, idents: &[String]) -> bool {
        idents.iter().any(|i| self.matches(i))
    }

    fn label(&self) -> String {
        self.id
            .clone()
            .or_else(|| self.identifiers.first().map(|(_, v)| v.clone()))
            .or_else(|| self.hashes.first().cloned())
            .unwrap_or_else(|| "(unnamed)".into())
    }
}

/// A product and the subcomponents of it a statement is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Product {
    /// The product.
    pub component: Component,
    /// Where in it the vulnerability is (empty: the whole product).
    pub subcomponents: Vec<Component>,
}

impl Product {
    /// Whether it covers the component known by `node` when the vulnerable package is `leaf`
    /// (`None`: the product itself is the vulnerable package).
    fn matches(&self, node: &[String], leaf: Option<&str>) -> bool {
        if !self.component.matches_any(node) {
            return false;
        }
        match leaf {
            None => true,
            Some(l) => {
                self.subcomponents.is_empty() || self.subcomponents.iter().any(|s| s.matches(l))
            }
        }
    }
}

/// One VEX statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VexStatement {
    /// The vulnerability's main name.
    pub vulnerability: String,
    /// Every id it goes by: `name`, `@id`, `aliases`.
    pub ids: Vec<String>,
    /// The products it is about.
    pub products: Vec<Product>,
    /// What it says.
    pub status: Status,
    /// Justification, impact statement or detail.
    pub justification: Option<String>,
    /// When it was made (the statement's timestamp, else its document's).
    pub timestamp: Option<DateTime<Utc>>,
    /// Where it is (`file` and statement number), for messages.
    pub source: String,
}

impl VexStatement {
    fn names(&self, id: &str) -> bool {
        self.ids.iter().any(|i| i == id)
    }
}

/// A node of the dependency graph: a component of the image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    /// Identifiers (purl first), compared with statements' products.
    pub ids: Vec<String>,
    /// The file it was found in, when known (compared with a finding's target).
    pub location: Option<String>,
    /// The components that contain or depend on it.
    pub parents: Vec<usize>,
}

/// What contains what in the image: the image at the root, then applications and OS packages,
/// then their dependencies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    nodes: Vec<Node>,
    roots: Vec<usize>,
}

fn norm_path(p: &str) -> &str {
    p.trim_start_matches("./").trim_start_matches('/')
}

impl Graph {
    /// A graph of just the image, known by `ids` (its purl, digests).
    pub fn image(ids: Vec<String>) -> Graph {
        let mut g = Graph::default();
        let r = g.add(ids, None);
        g.roots.push(r);
        g
    }

    /// Adds a node; returns its index.
    pub fn add(&mut self, ids: Vec<String>, location: Option<String>) -> usize {
        self.nodes.push(Node {
            ids,
            location,
            parents: Vec::new(),
        });
        self.nodes.len() - 1
    }

    /// Records that `parent` contains or depends on `child`.
    pub fn link(&mut self, parent: usize, child: usize) {
        if parent != child && !self.nodes[child].parents.contains(&parent) {
            self.nodes[child].parents.push(parent);
        }
    }

    /// Marks `node` as a root (the image).
    pub fn set_root(&mut self, node: usize) {
        if !self.roots.contains(&node) {
            self.roots.push(node);
        }
    }

    /// Adds identifiers the root is also known by (the index digest of a multi-platform image).
    pub fn add_root_ids(&mut self, ids: &[String]) {
        if self.roots.is_empty() {
            let r = self.add(Vec::new(), None);
            self.roots.push(r);
        }
        for r in self.roots.clone() {
            for i in ids {
                if !self.nodes[r].ids.contains(i) {
                    self.nodes[r].ids.push(i.clone());
                }
            }
        }
    }

    /// Adds the nodes of `other` (another platform of the same image) beside these.
    pub fn merge(&mut self, other: &Graph) {
        let base = self.nodes.len();
        for n in &other.nodes {
            self.nodes.push(Node {
                ids: n.ids.clone(),
                location: n.location.clone(),
                parents: n.parents.iter().map(|p| p + base).collect(),
            });
        }
        for r in &other.roots {
            self.roots.push(r + base);
        }
    }

    /// Whether it knows nothing.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The nodes.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The graph of an SBOM document: CycloneDX (`metadata.component` at the root,
    /// `dependencies`) or SPDX (the DESCRIBES package at the root, CONTAINS / DEPENDS_ON and
    /// their inverses).
    pub fn from_sbom(doc: &Value) -> Option<Graph> {
        if doc.get("bomFormat").is_some() {
            Some(Graph::from_cyclonedx(doc))
        } else if doc.get("spdxVersion").is_some() {
            Some(Graph::from_spdx(doc))
        } else {
            None
        }
    }

    /// Reads the SBOM at `path` into a graph.
    pub fn read_sbom(path: &Path) -> Result<Graph, ScanError> {
        let bytes = std::fs::read(path).map_err(|source| ScanError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let doc: Value = serde_json::from_slice(&bytes).map_err(|e| ScanError::Malformed {
            path: path.to_path_buf(),
            message: crate::error::json_position(&e),
        })?;
        Graph::from_sbom(&doc).ok_or_else(|| ScanError::Malformed {
            path: path.to_path_buf(),
            message: "neither CycloneDX (`bomFormat`) nor SPDX (`spdxVersion`)".into(),
        })
    }

    fn from_cyclonedx(doc: &Value) -> Graph {
        fn cdx_node(c: &Value) -> (Vec<String>, Option<String>) {
            let mut ids = Vec::new();
            if let Some(p) = c["purl"].as_str() {
                ids.push(p.to_owned());
            }
            for h in c["hashes"].as_array().into_iter().flatten() {
                if let Some(h) = h["content"].as_str() {
                    ids.push(h.to_owned());
                }
            }
            let location = c["evidence"]["occurrences"][0]["location"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| {
                    c["properties"].as_array().and_then(|ps| {
                        ps.iter()
                            .find(|p| {
                                matches!(
                                    p["name"].as_str(),
                                    Some("aquasecurity:trivy:FilePath" | "syft:location:0:path")
                                )
                            })
                            .and_then(|p| p["value"].as_str())
                            .map(str::to_owned)
                    })
                });
            (ids, location)
        }
        fn walk(
            g: &mut Graph,
            refs: &mut BTreeMap<String, usize>,
            list: &Value,
            parent: Option<usize>,
        ) {
            for c in list.as_array().into_iter().flatten() {
                let (ids, loc) = cdx_node(c);
                let i = g.add(ids, loc);
                if let Some(r) = c["bom-ref"].as_str() {
                    refs.insert(r.to_owned(), i);
                }
                if let Some(p) = parent {
                    g.link(p, i);
                }
                walk(g, refs, &c["components"], Some(i));
            }
        }
        let mut g = Graph::default();
        let mut refs = BTreeMap::new();
        let meta = &doc["metadata"]["component"];
        if meta.is_object() {
            let (ids, loc) = cdx_node(meta);
            let r = g.add(ids, loc);
            if let Some(b) = meta["bom-ref"].as_str() {
                refs.insert(b.to_owned(), r);
            }
            g.set_root(r);
        }
        walk(&mut g, &mut refs, &doc["components"], None);
        for d in doc["dependencies"].as_array().into_iter().flatten() {
            let Some(&from) = d["ref"].as_str().and_then(|r| refs.get(r)) else {
                continue;
            };
            for to in d["dependsOn"].as_array().into_iter().flatten() {
                if let Some(&to) = to.as_str().and_then(|r| refs.get(r)) {
                    g.link(from, to);
                }
            }
        }
        g
    }

    fn from_spdx(doc: &Value) -> Graph {
        let mut g = Graph::default();
        let mut ids: BTreeMap<String, usize> = BTreeMap::new();
        for p in doc["packages"].as_array().into_iter().flatten() {
            let mut idents: Vec<String> = p["externalRefs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["referenceType"] == "purl")
                .filter_map(|r| r["referenceLocator"].as_str().map(str::to_owned))
                .collect();
            for c in p["checksums"].as_array().into_iter().flatten() {
                if let Some(v) = c["checksumValue"].as_str() {
                    idents.push(v.to_owned());
                }
            }
            let location = p["sourceInfo"]
                .as_str()
                .and_then(|s| s.strip_prefix("found in "))
                .map(str::to_owned);
            let i = g.add(idents, location);
            if let Some(id) = p["SPDXID"].as_str() {
                ids.insert(id.to_owned(), i);
            }
        }
        for f in doc["files"].as_array().into_iter().flatten() {
            let i = g.add(
                Vec::new(),
                f["fileName"].as_str().map(|n| norm_path(n).to_owned()),
            );
            if let Some(id) = f["SPDXID"].as_str() {
                ids.insert(id.to_owned(), i);
            }
        }
        for r in doc["relationships"].as_array().into_iter().flatten() {
            let (Some(a), Some(b)) = (
                r["spdxElementId"].as_str(),
                r["relatedSpdxElement"].as_str(),
            ) else {
                continue;
            };
            let kind = r["relationshipType"].as_str().unwrap_or_default();
            if kind == "DESCRIBES" && a == "SPDXRef-DOCUMENT" {
                if let Some(&b) = ids.get(b) {
                    g.set_root(b);
                }
                continue;
            }
            let (parent, child) = match kind {
                "CONTAINS" | "DEPENDS_ON" => (a, b),
                "CONTAINED_BY"
                | "DEPENDENCY_OF"
                | "BUILD_DEPENDENCY_OF"
                | "RUNTIME_DEPENDENCY_OF" => (b, a),
                _ => continue,
            };
            if let (Some(&p), Some(&c)) = (ids.get(parent), ids.get(child)) {
                g.link(p, c);
            }
        }
        g
    }

    /// The nodes that are the package `purl` (at `targets`, when some node is there).
    fn find(&self, purl: &str, targets: &[&str]) -> Vec<usize> {
        let all: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| {
                self.nodes[i]
                    .ids
                    .iter()
                    .any(|id| purl_same_package(id, purl))
            })
            .collect();
        let here: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| {
                self.nodes[i].location.as_deref().is_some_and(|l| {
                    targets
                        .iter()
                        .any(|t| !t.is_empty() && norm_path(l) == norm_path(t))
                })
            })
            .collect();
        if here.is_empty() { all } else { here }
    }
}

/// The VEX statements of the policy, in the order they were read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vex {
    /// The statements.
    pub statements: Vec<VexStatement>,
}

impl Vex {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Adds the statements of another document (read later: later on ties).
    pub fn extend(&mut self, more: Vec<VexStatement>) {
        self.statements.extend(more);
    }

    /// The latest statement about vulnerability `stmts` for the component `node` (with the
    /// vulnerable package `leaf`), when it suppresses.
    fn decide<'a>(
        stmts: &[(usize, &'a VexStatement)],
        node: &[String],
        leaf: Option<&str>,
    ) -> Option<Option<&'a VexStatement>> {
        let latest = stmts
            .iter()
            .filter(|(_, s)| s.products.iter().any(|p| p.matches(node, leaf)))
            .max_by(|(ia, a), (ib, b)| a.timestamp.cmp(&b.timestamp).then(ia.cmp(ib)))?;
        Some(latest.1.status.suppresses().then_some(latest.1))
    }

    /// The statement that suppresses `f` in the image described by `graph`, if any.
    pub fn suppressing(&self, f: &Finding, graph: &Graph) -> Option<&VexStatement> {
        if f.kind != Kind::Vulnerability {
            return None;
        }
        let stmts: Vec<(usize, &VexStatement)> = self
            .statements
            .iter()
            .enumerate()
            .filter(|(_, s)| s.names(&f.id))
            .collect();
        if stmts.is_empty() {
            return None;
        }
        let leaf = f.purl.as_deref()?;
        let leaf_ids = vec![leaf.to_owned()];
        // A statement about the package itself.
        if let Some(decided) = Self::decide(&stmts, &leaf_ids, None) {
            return decided;
        }
        let targets: Vec<&str> = [Some(f.target.as_str()), f.pkg_path.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        let starts = graph.find(leaf, &targets);
        if starts.is_empty() {
            // Not in the SBOM: all we know is that it is in the image.
            let mut by = None;
            for &r in &graph.roots {
                by = Some(Self::decide(&stmts, &graph.nodes[r].ids, Some(leaf))??);
            }
            return by;
        }
        let mut by = None;
        for s in starts {
            let mut visited = vec![false; graph.nodes.len()];
            if reaches_root(graph, s, &stmts, leaf, &mut visited, &mut by) {
                return None;
            }
        }
        by
    }
}

/// Whether a path leads from `node` up to the root without passing a component that a
/// suppressing statement covers; `by` keeps the statement that cut a path.
fn reaches_root<'a>(
    g: &Graph,
    node: usize,
    stmts: &[(usize, &'a VexStatement)],
    leaf: &str,
    visited: &mut [bool],
    by: &mut Option<&'a VexStatement>,
) -> bool {
    visited[node] = true;
    if let Some(Some(s)) = Vex::decide(stmts, &g.nodes[node].ids, Some(leaf)) {
        *by = Some(s);
        return false;
    }
    let n = &g.nodes[node];
    // A component nothing contains is attached to the image in all but a broken SBOM: count it
    // as reaching the root, so that a gap in the graph never hides a finding.
    if g.roots.contains(&node) || n.parents.is_empty() {
        return true;
    }
    for &p in &n.parents {
        if !visited[p] && reaches_root(g, p, stmts, leaf, visited, by) {
            return true;
        }
    }
    false
}

#[derive(Deserialize)]
struct PurlParts {
    ty: String,
    namespace: Option<String>,
    name: String,
    version: Option<String>,
    qualifiers: BTreeMap<String, String>,
    subpath: Option<String>,
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The parts of a purl, percent-decoded (`pkg:type/namespace/name@version?qualifiers#subpath`).
fn parse_purl(s: &str) -> Option<PurlParts> {
    let rest = s.strip_prefix("pkg:")?.trim_start_matches('/');
    let (rest, subpath) = match rest.split_once('#') {
        Some((r, sp)) => (r, Some(decode(sp.trim_matches('/')))),
        None => (rest, None),
    };
    let (rest, qualifiers) = match rest.split_once('?') {
        Some((r, q)) => (
            r,
            q.split('&')
                .filter(|kv| !kv.is_empty())
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_ascii_lowercase(), decode(v)))
                .collect(),
        ),
        None => (rest, BTreeMap::new()),
    };
    let (rest, version) = match rest.rsplit_once('@') {
        Some((r, v)) => (r, Some(decode(v))),
        None => (rest, None),
    };
    let (ty, path) = rest.split_once('/')?;
    let path = path.trim_matches('/');
    let (namespace, name) = match path.rsplit_once('/') {
        Some((ns, n)) => (Some(decode(ns)), decode(n)),
        None => (None, decode(path)),
    };
    Some(PurlParts {
        ty: ty.to_ascii_lowercase(),
        namespace: namespace.filter(|n| !n.is_empty()),
        name,
        version: version.filter(|v| !v.is_empty()),
        qualifiers,
        subpath: subpath.filter(|s| !s.is_empty()),
    })
}

/// Whether the (more general) purl `general` matches `specific`: same type, namespace and
/// name; the same version when `general` has one; every qualifier of `general` in `specific`.
pub fn purl_matches(general: &str, specific: &str) -> bool {
    let (Some(g), Some(s)) = (parse_purl(general), parse_purl(specific)) else {
        return false;
    };
    g.ty == s.ty
        && g.namespace == s.namespace
        && g.name == s.name
        && g.version
            .as_ref()
            .is_none_or(|v| s.version.as_ref() == Some(v))
        && g.subpath
            .as_ref()
            .is_none_or(|p| s.subpath.as_ref() == Some(p))
        && g.qualifiers
            .iter()
            .all(|(k, v)| s.qualifiers.get(k) == Some(v))
}

/// Whether two purls name the same package and version (qualifiers aside).
fn purl_same_package(a: &str, b: &str) -> bool {
    let (Some(a), Some(b)) = (parse_purl(a), parse_purl(b)) else {
        return false;
    };
    a.ty == b.ty && a.namespace == b.namespace && a.name == b.name && a.version == b.version
}

// ---- OpenVEX -------------------------------------------------------------------------------

#[derive(Deserialize)]
struct OpenVex {
    #[serde(default)]
    timestamp: Option<String>,
    statements: Vec<OpenVexStatement>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OvVuln {
    /// OpenVEX before 0.2.0: the name as a string.
    Name(String),
    Struct {
        #[serde(default, rename = "@id")]
        id: Option<String>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        aliases: Vec<String>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OvComponent {
    /// OpenVEX before 0.2.0: the identifier as a string.
    Id(String),
    Struct {
        #[serde(default, rename = "@id")]
        id: Option<String>,
        #[serde(default)]
        identifiers: BTreeMap<String, String>,
        #[serde(default)]
        hashes: BTreeMap<String, String>,
        #[serde(default)]
        subcomponents: Vec<OvComponent>,
    },
}

impl OvComponent {
    fn into_product(self) -> Product {
        match self {
            OvComponent::Id(id) => Product {
                component: Component::of_id(id),
                subcomponents: Vec::new(),
            },
            OvComponent::Struct {
                id,
                identifiers,
                hashes,
                subcomponents,
            } => Product {
                component: Component {
                    id,
                    identifiers: identifiers.into_iter().collect(),
                    hashes: hashes.into_values().collect(),
                },
                subcomponents: subcomponents
                    .into_iter()
                    .map(|s| s.into_product().component)
                    .collect(),
            },
        }
    }
}

#[derive(Deserialize)]
struct OpenVexStatement {
    vulnerability: OvVuln,
    #[serde(default)]
    products: Vec<OvComponent>,
    /// OpenVEX before 0.2.0: subcomponents of every product.
    #[serde(default)]
    subcomponents: Vec<OvComponent>,
    status: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    impact_statement: Option<String>,
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn read_openvex(value: Value, path: &Path) -> Result<Vec<VexStatement>, ScanError> {
    let malformed = |message: String| ScanError::Malformed {
        path: path.to_path_buf(),
        message,
    };
    let doc: OpenVex = serde_path_json(value).map_err(|e| malformed(format!("OpenVEX: {e}")))?;
    let doc_time = match &doc.timestamp {
        Some(t) => Some(time(t).ok_or_else(|| {
            malformed(format!(
                "OpenVEX: document timestamp `{t}` is not an RFC 3339 time"
            ))
        })?),
        None => None,
    };
    let mut out = Vec::new();
    for (n, s) in doc.statements.into_iter().enumerate() {
        let at = format!("statements[{n}]");
        let (name, ids) = match s.vulnerability {
            OvVuln::Name(n) => (n.clone(), vec![n]),
            OvVuln::Struct { id, name, aliases } => {
                let mut ids: Vec<String> = name.iter().chain(id.iter()).cloned().collect();
                ids.extend(aliases);
                let main = name.or(id).ok_or_else(|| {
                    malformed(format!(
                        "OpenVEX {at}: the vulnerability has neither `name` nor `@id`"
                    ))
                })?;
                (main, ids)
            }
        };
        let status = Status::openvex(&s.status).ok_or_else(|| {
            malformed(format!(
                "OpenVEX {at}: status `{}` is not one of not_affected, affected, fixed, under_investigation",
                s.status
            ))
        })?;
        let timestamp = match &s.timestamp {
            Some(t) => Some(time(t).ok_or_else(|| {
                malformed(format!(
                    "OpenVEX {at}: timestamp `{t}` is not an RFC 3339 time"
                ))
            })?),
            None => doc_time,
        };
        let shared: Vec<Component> = s
            .subcomponents
            .into_iter()
            .map(|c| c.into_product().component)
            .collect();
        let products = s
            .products
            .into_iter()
            .map(|p| {
                let mut p = p.into_product();
                p.subcomponents.extend(shared.iter().cloned());
                p
            })
            .collect();
        out.push(VexStatement {
            vulnerability: name,
            ids,
            products,
            status,
            justification: s.justification.or(s.impact_statement),
            timestamp,
            source: format!("{} {at}", path.display()),
        });
    }
    Ok(out)
}

/// `serde_json::from_value` with the path to the field that did not fit.
fn serde_path_json<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let p = e.path().to_string();
        let inner = e.into_inner();
        if p == "." {
            inner.to_string()
        } else {
            format!("{p}: {inner}")
        }
    })
}

// ---- CycloneDX VEX -------------------------------------------------------------------------

#[derive(Deserialize)]
struct CdxVex {
    #[serde(default)]
    metadata: Option<CdxMeta>,
    #[serde(default)]
    components: Vec<Value>,
    #[serde(default)]
    vulnerabilities: Vec<CdxVuln>,
}

#[derive(Deserialize)]
struct CdxMeta {
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct CdxVuln {
    id: String,
    #[serde(default)]
    references: Vec<CdxRef>,
    #[serde(default)]
    updated: Option<String>,
    #[serde(default)]
    analysis: Option<CdxAnalysis>,
    #[serde(default)]
    affects: Vec<CdxAffects>,
}

#[derive(Deserialize)]
struct CdxRef {
    id: String,
}

#[derive(Deserialize)]
struct CdxAnalysis {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default, rename = "lastUpdated")]
    last_updated: Option<String>,
}

#[derive(Deserialize)]
struct CdxAffects {
    #[serde(rename = "ref")]
    reference: String,
}

fn read_cyclonedx(value: Value, path: &Path) -> Result<Vec<VexStatement>, ScanError> {
    let malformed = |message: String| ScanError::Malformed {
        path: path.to_path_buf(),
        message,
    };
    let doc: CdxVex =
        serde_path_json(value).map_err(|e| malformed(format!("CycloneDX VEX: {e}")))?;
    // A VEX inside an SBOM refers to its own components by bom-ref.
    let mut purls: BTreeMap<String, String> = BTreeMap::new();
    fn collect(list: &[Value], purls: &mut BTreeMap<String, String>) {
        for c in list {
            if let (Some(r), Some(p)) = (c["bom-ref"].as_str(), c["purl"].as_str()) {
                purls.insert(r.to_owned(), p.to_owned());
            }
            if let Some(sub) = c["components"].as_array() {
                collect(sub, purls);
            }
        }
    }
    collect(&doc.components, &mut purls);
    // A time that is there must be one: a statement's time decides which statement wins, so a
    // malformed one is refused rather than dropped (as OpenVEX timestamps are).
    let when = |field: &str, t: Option<&str>| -> Result<Option<DateTime<Utc>>, ScanError> {
        t.map(|t| {
            time(t).ok_or_else(|| {
                malformed(format!(
                    "CycloneDX VEX {field}: `{t}` is not an RFC 3339 time"
                ))
            })
        })
        .transpose()
    };
    let doc_time = when(
        "metadata.timestamp",
        doc.metadata.as_ref().and_then(|m| m.timestamp.as_deref()),
    )?;
    let mut out = Vec::new();
    for (n, v) in doc.vulnerabilities.into_iter().enumerate() {
        let at = format!("vulnerabilities[{n}]");
        let updated = when(&format!("{at}.updated"), v.updated.as_deref())?;
        let last_updated = when(
            &format!("{at}.analysis.lastUpdated"),
            v.analysis.as_ref().and_then(|a| a.last_updated.as_deref()),
        )?;
        // An entry without an analysis is a finding, not a statement.
        let Some(a) = v.analysis else { continue };
        let Some(state) = a.state else { continue };
        let status = Status::cyclonedx(&state).ok_or_else(|| {
            malformed(format!(
                "CycloneDX VEX {at}: analysis.state `{state}` is not a CycloneDX impact analysis state"
            ))
        })?;
        let mut ids = vec![v.id.clone()];
        ids.extend(v.references.into_iter().map(|r| r.id));
        let products = v
            .affects
            .into_iter()
            .map(|a| {
                let id = match a.reference.split_once('#') {
                    Some((urn, purl)) if urn.starts_with("urn:cdx:") => purl.to_owned(),
                    _ => purls.get(&a.reference).cloned().unwrap_or(a.reference),
                };
                Product {
                    component: Component::of_id(id),
                    subcomponents: Vec::new(),
                }
            })
            .collect();
        out.push(VexStatement {
            vulnerability: v.id,
            ids,
            products,
            status,
            justification: a.justification.or(a.detail),
            timestamp: last_updated.or(updated).or(doc_time),
            source: format!("{} {at}", path.display()),
        });
    }
    Ok(out)
}

/// Reads an OpenVEX or CycloneDX VEX document: every statement, whatever its status (a newer
/// `affected` statement overrides an older `not_affected` one).
pub fn read(path: &Path) -> Result<Vec<VexStatement>, ScanError> {
    let bytes = std::fs::read(path).map_err(|source| ScanError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| ScanError::Malformed {
        path: path.to_path_buf(),
        message: crate::error::json_position(&e),
    })?;
    if value.get("statements").is_some() {
        read_openvex(value, path)
    } else if value.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        read_cyclonedx(value, path)
    } else {
        Err(ScanError::Malformed {
            path: path.to_path_buf(),
            message: "neither OpenVEX (`statements`) nor CycloneDX VEX (`bomFormat: CycloneDX`)"
                .into(),
        })
    }
}

/// A short description of a statement for reasons: `not_affected: justification (where)`.
pub fn describe(s: &VexStatement) -> String {
    let products: Vec<String> = s
        .products
        .iter()
        .map(|p| {
            if p.subcomponents.is_empty() {
                p.component.label()
            } else {
                format!(
                    "{} > {}",
                    p.component.label(),
                    p.subcomponents
                        .iter()
                        .map(Component::label)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        })
        .collect();
    format!(
        "VEX {}{} for {} ({})",
        s.status,
        s.justification
            .as_deref()
            .map(|j| format!(": {j}"))
            .unwrap_or_default(),
        products.join("; "),
        s.source
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_match_from_general_to_specific() {
        let s = "pkg:deb/debian/libssl1.1@1.1.1n-0?arch=amd64&distro=debian-11";
        assert!(purl_matches("pkg:deb/debian/libssl1.1", s));
        assert!(purl_matches("pkg:deb/debian/libssl1.1@1.1.1n-0", s));
        assert!(purl_matches("pkg:deb/debian/libssl1.1?arch=amd64", s));
        assert!(!purl_matches("pkg:deb/debian/libssl1.1?arch=arm64", s));
        assert!(!purl_matches("pkg:deb/debian/libssl1.1@1.1.1n-1", s));
        assert!(!purl_matches("pkg:deb/ubuntu/libssl1.1", s));
        assert!(!purl_matches(s, "pkg:deb/debian/libssl1.1"));
        // `+` and `%2B` are the same version.
        assert!(purl_matches(
            "pkg:golang/github.com/docker/distribution@v2.7.1+incompatible",
            "pkg:golang/github.com/docker/distribution@v2.7.1%2Bincompatible"
        ));
        assert!(purl_same_package(
            "pkg:golang/golang.org/x/text@v0.3.6",
            "pkg:golang/golang.org/x/text@v0.3.6?type=module"
        ));
        assert!(!purl_same_package(
            "pkg:golang/golang.org/x/text@v0.3.6",
            "pkg:golang/golang.org/x/text@v0.3.7"
        ));
    }
}
