//! Which entries of a tree take part: `--exclude` and `--include` globs, bounds on size and
//! time, marker files that leave their folder out ([`Filters`]), and a worker's shard. One stream adapter ([`selected`]) applies them to
//! what a walk or a listing finds, for copies, removals and the rest; a sync takes the paths
//! from it and weighs sizes and times itself, pair by pair (see [`Filters::paths_only`]).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use ferry_s3::ObjectInfo;
use globset::{Glob, GlobMatcher};
use tokio::sync::mpsc;

use super::{Found, READ_AHEAD};
use crate::error::{Error, ErrorKind};
use crate::mtime::listed_time;
use crate::outcome::ObjectFailure;
use crate::shard::Shard;

/// Which paths take part: exclude and include globs, in the order given; the last one that
/// matches a path decides, and a path none matches takes part (the aws cli's rule). A glob
/// matches the path below the folder, or the key below the prefix; `*` matches `/` too.
/// Empty (the default): every path.
///
/// Bounds on size and time narrow what the globs allow, as rclone's `--min-size`,
/// `--max-size`, `--max-age` and `--min-age` do: an entry takes part when its size and its
/// time (a file's mtime, an object's or a version's Last-Modified) are within all of them,
/// both ends included. An entry whose time is not known (none listed) takes no part when a
/// time bound is set.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// let f = ferry_engine::Filters::default().exclude("*.log")?.include("keep/*")?;
/// assert!(!f.allows("deep/x.log") && f.allows("keep/x.log") && f.allows("a.txt"));
/// let day_ago = SystemTime::now() - Duration::from_secs(86_400);
/// let f = f.min_size(1024).modified_since(day_ago);
/// assert!(f.admits(4096, Some(SystemTime::now())));
/// assert!(!f.admits(100, Some(SystemTime::now())) && !f.admits(4096, None));
/// # Ok::<(), ferry_engine::Error>(())
/// ```
///
/// A folder that holds a file of a marker's name ([`Filters::exclude_if_present`]) is left
/// out whole, where a folder is walked.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    rules: Vec<(bool, GlobMatcher)>,
    shard: Option<Shard>,
    bounds: Bounds,
    /// The only paths that take part, when a list names them, each with whether an entry
    /// was found at it (shared by the clones a run makes of these filters).
    paths: Option<Arc<BTreeMap<String, AtomicBool>>>,
    /// Names of entries whose folder a walk leaves out.
    markers: Vec<String>,
    /// The folders a walk left out for a marker so far in this run, each its path below the
    /// root with `/` after it (`""`: the root); shared by the clones a run makes of these
    /// filters, so a sync's merge knows what not to delete.
    fenced: Arc<Mutex<BTreeSet<String>>>,
}

/// The bounds on an entry's size and time, each end included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Bounds {
    min_size: Option<u64>,
    max_size: Option<u64>,
    since: Option<SystemTime>,
    before: Option<SystemTime>,
}

impl Bounds {
    fn admits(&self, size: u64, time: Option<SystemTime>) -> bool {
        let within =
            |t: SystemTime| self.since.is_none_or(|s| t >= s) && self.before.is_none_or(|b| t <= b);
        self.min_size.is_none_or(|m| size >= m)
            && self.max_size.is_none_or(|m| size <= m)
            && match time {
                Some(t) => within(t),
                None => self.since.is_none() && self.before.is_none(),
            }
    }
}

impl Filters {
    /// Adds a rule: `include` or exclude the paths `glob` matches.
    pub fn push(&mut self, include: bool, glob: &str) -> Result<(), Error> {
        let g = Glob::new(glob)
            .map_err(|e| Error::invalid(format!("the filter {glob:?} is not a glob: {e}")))?;
        self.rules.push((include, g.compile_matcher()));
        Ok(())
    }

    /// These filters and one more: leave out the paths `glob` matches.
    pub fn exclude(mut self, glob: &str) -> Result<Self, Error> {
        self.push(false, glob)?;
        Ok(self)
    }

    /// These filters and one more: take part again the paths `glob` matches.
    pub fn include(mut self, glob: &str) -> Result<Self, Error> {
        self.push(true, glob)?;
        Ok(self)
    }

    /// These filters and one more: only entries of `bytes` or more (rclone's `--min-size`).
    pub fn min_size(mut self, bytes: u64) -> Self {
        self.bounds.min_size = Some(bytes);
        self
    }

    /// These filters and one more: only entries of `bytes` or fewer (rclone's `--max-size`).
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.bounds.max_size = Some(bytes);
        self
    }

    /// These filters and one more: only entries changed at or after `time` (rclone's
    /// `--max-age`: no older than the age).
    pub fn modified_since(mut self, time: SystemTime) -> Self {
        self.bounds.since = Some(time);
        self
    }

    /// These filters and one more: only entries last changed at or before `time` (rclone's
    /// `--min-age`: at least the age old).
    pub fn modified_before(mut self, time: SystemTime) -> Self {
        self.bounds.before = Some(time);
        self
    }

    /// These filters and one more: only the paths `paths` names, as rclone's `--files-from`
    /// (each below the folder or the prefix, `/` between folders, as the globs match them;
    /// the globs and bounds still apply). A tree fails each path named that it does not
    /// find (each run on its own); a sync, a removal or a listing takes what it finds of
    /// them.
    pub fn only_paths(mut self, paths: impl IntoIterator<Item = String>) -> Self {
        let named = paths.into_iter().map(|p| (p, AtomicBool::new(false)));
        self.paths = Some(Arc::new(named.collect()));
        self
    }

    /// These filters and one more: a folder walked that holds an entry named `name` (a
    /// cache's `CACHEDIR.TAG`, a `.nobackup`) is left out whole, with all below it, as
    /// rclone's `--exclude-if-present` (restic's and borg's too). A sync neither sends nor
    /// deletes anything below such a folder, on either side. It weighs folders walked only
    /// (an upload's, either side of a sync or a check that has a folder): a run that walks
    /// none (a download to a folder, a copy between prefixes, a removal) refuses it.
    pub fn exclude_if_present(mut self, name: &str) -> Result<Self, Error> {
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
            return Err(Error::invalid(format!(
                "{name:?} cannot mark a folder: give the name of a file in it, such as .nobackup"
            )));
        }
        self.markers.push(name.to_string());
        Ok(self)
    }

    /// Whether an entry named `name` marks its folder to be left out.
    pub(crate) fn is_marker(&self, name: &[u8]) -> bool {
        self.markers.iter().any(|m| m.as_bytes() == name)
    }

    /// Notes that a walk left out the folder at `dir` (its path below the root, `/` after
    /// it) for a marker.
    pub(crate) fn fence(&self, dir: String) {
        self.fenced.lock().expect("the fences").insert(dir);
    }

    /// Whether `rel` lies in a folder a walk left out for a marker so far in this run.
    /// Folders left out hold none another left out (the walk entered neither's inside), so
    /// the nearest before `rel` is the only one that can hold it.
    pub(crate) fn fenced(&self, rel: &str) -> bool {
        if self.markers.is_empty() {
            return false;
        }
        let fenced = self.fenced.lock().expect("the fences");
        let upto = (Bound::Unbounded, Bound::Included(rel));
        let nearest = fenced.range::<str, _>(upto).next_back();
        nearest.is_some_and(|dir| rel.starts_with(dir.as_str()))
    }

    /// Refuses markers for a run that walks no folder (`what` says which), where they
    /// would leave nothing out.
    pub(crate) fn walks_none(&self, what: &str) -> Result<(), Error> {
        match self.markers.first() {
            None => Ok(()),
            Some(m) => Err(Error::invalid(format!(
                "a folder holding {m} is left out only where a folder is walked (an upload's, \
                 or a sync's or a check's folder); {what} walks none"
            ))),
        }
    }

    /// Of the paths [`Filters::only_paths`] names, those no entry was found at so far in this
    /// run (by these filters or a clone of them), in order.
    pub(crate) fn unseen(&self) -> Vec<String> {
        let Some(paths) = &self.paths else {
            return Vec::new();
        };
        let unseen = paths
            .iter()
            .filter(|(_, seen)| !seen.load(Ordering::Relaxed));
        unseen.map(|(p, _)| p.clone()).collect()
    }

    /// The paths to ask for alone rather than list a prefix (see [`super::named`]): those of
    /// a list of at most [`ASKED_ALONE`](super::named::ASKED_ALONE) paths, in order.
    pub(crate) fn few_paths(&self) -> Option<Vec<String>> {
        let paths = self.paths.as_ref()?;
        (paths.len() <= super::named::ASKED_ALONE).then(|| self.named().unwrap_or_default())
    }

    /// The paths a list names, however many, in byte order: the only ones a listing that
    /// these filters narrow need go to (see [`super::list::Skips`]).
    pub(crate) fn named(&self) -> Option<Vec<String>> {
        Some(self.paths.as_ref()?.keys().cloned().collect())
    }

    /// Notes that an entry was found at `rel`, if the list names it.
    fn saw(&self, rel: &str) {
        if let Some(seen) = self.paths.as_ref().and_then(|p| p.get(rel)) {
            seen.store(true, Ordering::Relaxed);
        }
    }

    /// These filters for one run of a tree: taking only the paths of `shard` (the tree's)
    /// whatever the globs say, as each worker of a split tree copies (and a split sync
    /// deletes) its own paths only; with a list's paths none found yet, and no folder left
    /// out for a marker yet, whatever runs given these filters before found.
    pub(crate) fn for_run(&self, shard: Option<Shard>) -> Self {
        let fresh = |p: &Arc<BTreeMap<String, AtomicBool>>| {
            Arc::new(
                p.keys()
                    .map(|k| (k.clone(), AtomicBool::new(false)))
                    .collect(),
            )
        };
        Self {
            shard,
            paths: self.paths.as_ref().map(fresh),
            fenced: Arc::default(),
            ..self.clone()
        }
    }

    /// These filters without their bounds on size and time: what a sync's sides are narrowed
    /// to, since an entry out of bounds still keeps the same path on the other side from
    /// looking deleted; the sync weighs the bounds itself ([`Filters::admits`]).
    pub(crate) fn paths_only(&self) -> Self {
        Self {
            bounds: Bounds::default(),
            ..self.clone()
        }
    }

    /// What a sync's destination is narrowed to: [`Filters::paths_only`]; with
    /// `delete_excluded` (to be deleted there, what these filters leave out must be seen), its
    /// shard only, and its markers, for a folder walked.
    pub(crate) fn for_destination(&self, delete_excluded: bool) -> Self {
        if !delete_excluded {
            return self.paths_only();
        }
        Self {
            shard: self.shard,
            markers: self.markers.clone(),
            fenced: self.fenced.clone(),
            ..Self::default()
        }
    }

    /// Whether an entry of `size` bytes last changed at `time` is within the bounds on size
    /// and time (all of them when none is set; with a time bound, none when `time` is not
    /// known). Its path is for [`Filters::allows`].
    pub fn admits(&self, size: u64, time: Option<SystemTime>) -> bool {
        self.bounds.admits(size, time)
    }

    /// Whether `rel` takes part.
    pub fn allows(&self, rel: &str) -> bool {
        if self.shard.is_some_and(|s| !s.owns(rel)) {
            return false;
        }
        if self.paths.as_ref().is_some_and(|p| !p.contains_key(rel)) {
            return false;
        }
        self.rules
            .iter()
            .rev()
            .find(|(_, g)| g.is_match(rel))
            .is_none_or(|(include, _)| *include)
    }

    /// Whether no path below the folder `dir` (its path below the root, `/` after it) can
    /// take part, so a walk need not enter it: an exclude rule `LITERAL*` covers it (`*`
    /// matching `/` too, every path that starts with `LITERAL`) and no include rule follows
    /// that one, or a list of paths names none below it. Rules of any other shape never skip
    /// a folder; their paths are matched one by one.
    pub(crate) fn skips_folder(&self, dir: &str) -> bool {
        let unnamed = |p: &BTreeMap<String, AtomicBool>| {
            let from = (Bound::Included(dir), Bound::Unbounded);
            !p.range::<str, _>(from)
                .next()
                .is_some_and(|(k, _)| k.starts_with(dir))
        };
        if self.paths.as_deref().is_some_and(unnamed) {
            return true;
        }
        let covers = |glob: &str| {
            glob.strip_suffix('*').is_some_and(|literal| {
                !literal.contains(['*', '?', '[', ']', '{', '}', '\\']) && dir.starts_with(literal)
            })
        };
        self.rules.iter().enumerate().any(|(i, (include, g))| {
            !include && covers(g.glob().glob()) && self.rules[i + 1..].iter().all(|(inc, _)| !inc)
        })
    }

    /// Whether a listed object takes part: `rel`, its key below the prefix, by the globs (and
    /// the shard), its size and Last-Modified by the bounds.
    pub fn takes(&self, rel: &str, object: &ObjectInfo) -> bool {
        let timed = self.bounds.since.is_some() || self.bounds.before.is_some();
        let time = || object.last_modified.as_deref().and_then(listed_time);
        self.allows(rel) && self.admits(object.size, timed.then(time).flatten())
    }

    /// Whether every entry takes part: no rule, no marker, no bound, no list, no shard.
    pub fn takes_all(&self) -> bool {
        self.rules.is_empty()
            && self.markers.is_empty()
            && self.shard.is_none()
            && self.bounds == Bounds::default()
            && self.paths.is_none()
    }
}

/// What `found` yields that `filters` allows, by its key below `prefix`, and (an item) by its
/// size and time. A folder that cannot be read (its failure's key ends in `/`) passes, and is
/// reported: the files in it, unseen, may be ones the filters take.
pub(crate) fn selected(
    found: mpsc::Receiver<Found>,
    filters: Filters,
    prefix: String,
) -> mpsc::Receiver<Found> {
    select(found, filters, prefix, None)
}

/// How a tree names a path its list named and it did not find: its file (or source URL) and
/// its key, from the path.
pub(crate) type Named = Box<dyn Fn(&str) -> (PathBuf, String) + Send>;

/// As [`selected`], for a tree that asked for each path its filters' list names: once
/// `found` ends, each it did not find (of its shard's) fails, as `named` names it.
pub(crate) fn selected_all(
    found: mpsc::Receiver<Found>,
    filters: Filters,
    prefix: String,
    named: Named,
) -> mpsc::Receiver<Found> {
    select(found, filters, prefix, Some(named))
}

fn select(
    mut found: mpsc::Receiver<Found>,
    filters: Filters,
    prefix: String,
    missing: Option<Named>,
) -> mpsc::Receiver<Found> {
    if filters.takes_all() {
        return found;
    }
    super::fed(READ_AHEAD, |tx| async move {
        while let Some(f) = found.recv().await {
            let key = match &f {
                Found::Item(i) => Some(&i.key),
                Found::Bad(b) if !b.key.is_empty() && !b.key.ends_with('/') => Some(&b.key),
                Found::PassedOver(p) if !p.key.is_empty() => Some(&p.key),
                _ => None,
            };
            let rel = key.map(|k| k.strip_prefix(prefix.as_str()).unwrap_or(k));
            if let Some(r) = rel {
                filters.saw(r);
            }
            let out_of_bounds = matches!(&f, Found::Item(i) if !filters.admits(i.size, i.mtime));
            if rel.is_some_and(|r| !filters.allows(r)) || out_of_bounds {
                continue;
            }
            if tx.send(f).await.is_err() {
                return;
            }
        }
        let Some(named) = missing else { return };
        // Not those the globs or the shard leave out: a folder they cover is not walked.
        for rel in filters.unseen() {
            if !filters.allows(&rel) {
                continue;
            }
            let (path, key) = named(&rel);
            let error = Error::new(
                ErrorKind::Local,
                format!("{rel:?} is named in the list of paths to take, but is not there"),
            );
            if tx
                .send(Found::Bad(ObjectFailure { path, key, error }))
                .await
                .is_err()
            {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_matching_filter_decides() {
        assert!(Filters::default().allows("a/b.txt"));
        let mut f = Filters::default()
            .exclude("*.log")
            .and_then(|f| f.include("keep/*.log"))
            .unwrap();
        assert!(!f.allows("x.log"));
        assert!(!f.allows("deep/x.log"), "* matches / too");
        assert!(f.allows("keep/x.log"));
        assert!(f.allows("x.txt"));
        f.push(false, "*").unwrap();
        assert!(!f.allows("keep/x.log"));
        assert!(Filters::default().push(true, "a[").is_err());
    }

    #[test]
    fn a_folder_is_skipped_only_when_no_path_below_it_can_take_part() {
        let f = |rules: &[(bool, &str)]| {
            let mut f = Filters::default();
            for (include, glob) in rules {
                f.push(*include, glob).unwrap();
            }
            f
        };
        let cache = f(&[(false, ".cache/*")]);
        assert!(cache.skips_folder(".cache/") && cache.skips_folder(".cache/deep/"));
        assert!(!cache.skips_folder("src/") && !cache.skips_folder(".cached/"));
        assert!(f(&[(false, "*")]).skips_folder("any/"));
        assert!(f(&[(false, "node_mod*")]).skips_folder("node_modules/"));
        // An include after it may take a path below back: the folder is walked.
        assert!(!f(&[(false, "*"), (true, "*.txt")]).skips_folder("any/"));
        // An include before it is overruled by the later exclude.
        assert!(f(&[(true, "*.txt"), (false, "*")]).skips_folder("any/"));
        // Globs that are not a literal and `*` are matched path by path.
        assert!(!f(&[(false, "*.log")]).skips_folder("logs/"));
        assert!(!f(&[(false, "[a-z]*")]).skips_folder("a/"));
        assert!(!f(&[(false, ".cache/*.tmp")]).skips_folder(".cache/"));
        // Every skip is sound: no path below the folder is allowed.
        for (rules, dir) in [
            (&[(false, ".cache/*")][..], ".cache/"),
            (&[(false, "*")], "x/"),
        ] {
            let f = f(rules);
            assert!(f.skips_folder(dir) && !f.allows(&format!("{dir}a/b.txt")));
        }
    }

    #[test]
    fn sizes_and_times_are_bounded_at_both_ends_included() {
        use std::time::Duration;
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let s = Duration::from_secs(1);
        assert!(Filters::default().admits(0, None), "no bound: all");
        let f = Filters::default().min_size(10).max_size(20);
        assert!(!f.takes_all() && f.paths_only().takes_all());
        assert!(f.admits(10, None) && f.admits(20, Some(t)));
        assert!(!f.admits(9, Some(t)) && !f.admits(21, Some(t)));
        let f = Filters::default().modified_since(t).modified_before(t + s);
        assert!(f.admits(0, Some(t)) && f.admits(u64::MAX, Some(t + s)));
        assert!(!f.admits(0, Some(t - s)) && !f.admits(0, Some(t + s + s)));
        assert!(!f.admits(0, None), "a time bound and no time: out");
        // A shard keeps the bounds; the paths alone drop them, not the globs.
        let f = f.exclude("*.log").unwrap();
        assert!(!f.for_run(None).admits(0, Some(t - s)));
        assert!(!f.paths_only().allows("x.log") && f.paths_only().admits(0, None));
    }

    #[test]
    fn a_list_of_paths_takes_those_alone_and_says_which_were_not_found() {
        let named = ["a.txt", "deep/b.txt", "deep/er/c.txt"].map(String::from);
        let f = Filters::default()
            .exclude("*.log")
            .unwrap()
            .only_paths(named);
        assert!(f.allows("a.txt") && f.allows("deep/er/c.txt"));
        assert!(
            !f.allows("z.txt") && !f.allows("deep"),
            "only what is named"
        );
        assert!(!f.takes_all() && f.paths_only().allows("deep/b.txt"));
        // A folder with nothing named below it is not walked.
        assert!(f.skips_folder("other/") && f.skips_folder("dee/"));
        assert!(!f.skips_folder("deep/") && !f.skips_folder("deep/er/"));
        // What was found is no longer unseen, through any clone of one run; another run
        // starts with none found.
        let run = f.for_run(None);
        let clone = run.clone();
        clone.saw("deep/b.txt");
        clone.saw("not-named");
        assert_eq!(run.unseen(), ["a.txt", "deep/er/c.txt"]);
        assert_eq!(f.unseen().len(), 3);
        assert_eq!(run.for_run(None).unseen().len(), 3);
        assert!(Filters::default().unseen().is_empty());
    }

    #[test]
    fn a_shard_narrows_what_the_globs_allow() {
        let shard = Shard { index: 0, count: 2 };
        let f = Filters::default().for_run(Some(shard));
        let names: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
        let mine: Vec<&String> = names.iter().filter(|n| f.allows(n)).collect();
        assert!(!mine.is_empty() && mine.len() < names.len());
        assert!(mine.iter().all(|n| shard.owns(n)));
    }
}
