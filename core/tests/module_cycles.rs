//! The modules of `core/src/client/` must not import each other in a cycle
//! (issue #12): every module sits on a layer and uses only lower ones, so
//! each can be read, and tested, without the ones above it.
//!
//! The check reads the source: a module's dependencies are the client
//! modules named by `super::X` (in a file directly under `client/`) or
//! `crate::client::X` paths, `{a, b}` groups included, outside comments and
//! `#[cfg(test)]` modules. A sub-folder (`copy/`, `pool/`) counts as one
//! module. When the test fails it prints each cycle and every edge in it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The direct children of `root`: module name -> its source files.
fn modules(root: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut mods = BTreeMap::new();
    for entry in fs::read_dir(root).expect("read core/src/client") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let mut files = Vec::new();
            collect_rs(&path, &mut files);
            mods.insert(name, files);
        } else if let Some(stem) = name.strip_suffix(".rs") {
            if stem != "mod" {
                mods.insert(stem.to_owned(), vec![path]);
            }
        }
    }
    mods
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src` without `//` comments and without `#[cfg(test)] mod name { ... }` blocks.
fn strip(src: &str) -> String {
    let no_comments: String = src
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let mut rest = no_comments.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        let is_mod = ["mod ", "pub mod ", "pub(crate) mod "].iter().any(|p| trimmed.starts_with(p));
        match (is_mod, after.find('{')) {
            (true, Some(open)) if !after[..open].contains(';') => {
                // Skip to the matching closing brace.
                let bytes = after.as_bytes();
                let (mut depth, mut i) = (0usize, open);
                while i < bytes.len() {
                    match bytes[i] {
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                rest = &after[(i + 1).min(after.len())..];
            }
            _ => rest = after,
        }
    }
    out.push_str(rest);
    out
}

/// The client modules `src` names after `super::` (when `super_is_client`)
/// or `crate::client::`.
fn referenced(src: &str, super_is_client: bool) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut prefixes = vec!["crate::client::"];
    if super_is_client {
        prefixes.push("super::");
    }
    for prefix in prefixes {
        let mut from = 0;
        while let Some(at) = src[from..].find(prefix) {
            let start = from + at;
            from = start + prefix.len();
            // `super::super::` inside a sub-folder, `foo_super::`: not ours.
            if start > 0 && src.as_bytes()[start - 1].is_ascii_alphanumeric() {
                continue;
            }
            let tail = &src[from..];
            if let Some(group) = tail.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let first = item.trim().split("::").next().unwrap_or("").trim();
                    if !first.is_empty() {
                        names.insert(first.to_owned());
                    }
                }
            } else {
                let ident: String = tail.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !ident.is_empty() {
                    names.insert(ident);
                }
            }
        }
    }
    names
}

fn graph(root: &Path) -> Graph {
    let mods = modules(root);
    let mut g = Graph::new();
    for (name, files) in &mods {
        let mut deps = BTreeSet::new();
        for f in files {
            let src = strip(&fs::read_to_string(f).unwrap());
            // In a sub-folder, `super::` is the sub-folder itself.
            let super_is_client = f.parent() == Some(root);
            for d in referenced(&src, super_is_client) {
                if d != *name && mods.contains_key(&d) {
                    deps.insert(d);
                }
            }
        }
        g.insert(name.clone(), deps);
    }
    g
}

/// Strongly connected groups of more than one module (Tarjan).
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        g: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in &self.g[v] {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on_stack.remove(w);
                    group.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.out.push(group);
                }
            }
        }
    }
    let mut t = Tarjan {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.out
}

#[test]
fn client_modules_have_no_import_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/client");
    let g = graph(&root);
    assert!(g.len() > 20, "expected the client modules under {}, found {:?}", root.display(), g.keys());
    let found = cycles(&g);
    let mut report = String::new();
    for group in &found {
        report.push_str(&format!("cycle: {}\n", group.join(", ")));
        for m in group {
            let inside: Vec<&str> = g[m].iter().filter(|d| group.contains(d)).map(|d| d.as_str()).collect();
            report.push_str(&format!("  {m} -> {}\n", inside.join(", ")));
        }
    }
    assert!(found.is_empty(), "import cycles among core/src/client modules:\n{report}");
}

#[test]
fn the_checker_sees_a_cycle() {
    // The parser and the cycle search on a made-up folder: a check that
    // cannot fail checks nothing.
    let a = "use super::b::B;\n// use super::c::C;\nuse crate::client::{d, e::E};";
    assert_eq!(referenced(&strip(a), true), ["b", "d", "e"].iter().map(|s| s.to_string()).collect());
    let tests_only =
        "fn f() {}\n#[cfg(test)]\nmod tests {\n    use super::c::C;\n    fn g() { if true {} }\n}\nuse super::d;";
    assert_eq!(referenced(&strip(tests_only), true), ["d"].iter().map(|s| s.to_string()).collect());
    let nested = "use super::super::handle::Connection;\nuse super::state::State;";
    assert!(referenced(&strip(nested), false).is_empty());

    let mut g = Graph::new();
    let edge = |g: &mut Graph, a: &str, b: &str| {
        g.entry(a.into()).or_default().insert(b.into());
        g.entry(b.into()).or_default();
    };
    edge(&mut g, "a", "b");
    edge(&mut g, "b", "c");
    edge(&mut g, "c", "d");
    assert!(cycles(&g).is_empty());
    edge(&mut g, "d", "b");
    assert_eq!(cycles(&g), vec![vec!["b".to_string(), "c".into(), "d".into()]]);
}
