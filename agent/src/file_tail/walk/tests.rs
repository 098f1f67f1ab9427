use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;

use super::*;

fn pat(s: &str) -> glob::Pattern {
    glob::Pattern::new(s).unwrap()
}

fn walk(g: &str, policy: FollowSymlinks) -> WalkResult {
    GlobWalk::new(&pat(g)).walk(policy, WalkLimits::default(), &|_| true, &|| false)
}

fn names(r: &WalkResult, root: &Path) -> Vec<String> {
    let mut v: Vec<String> = r
        .files
        .iter()
        .map(|f| {
            f.path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

fn touch(p: &Path) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, b"x\n").unwrap();
}

#[test]
fn matches_as_the_glob_crate_does() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    for f in [
        "a.log",
        "b.txt",
        ".h.log",
        "x/c.log",
        "x/y/d.log",
        "z/e.log",
    ] {
        touch(&r.join(f));
    }
    for g in [
        "*.log",
        "**/*.log",
        "x/*.log",
        "*/*.log",
        "x/**/*.log",
        "a.log",
        "?/c.log",
    ] {
        let full = format!("{}/{g}", r.display());
        let mut want: Vec<String> = glob::glob(&full)
            .unwrap()
            .flatten()
            .filter(|p| p.is_file())
            .map(|p| p.strip_prefix(r).unwrap().to_string_lossy().into_owned())
            .collect();
        want.sort();
        assert_eq!(names(&walk(&full, FollowSymlinks::Inside), r), want, "{g}");
    }
}

#[test]
fn base_folder_and_parts() {
    let g = GlobWalk::new(&pat("/logs/app/**/*.log"));
    assert_eq!(g.base_dir(), Path::new("/logs/app"));
    assert!(g.is_deep());
    let g = GlobWalk::new(&pat("/logs/app.log"));
    assert_eq!(g.base_dir(), Path::new("/logs"));
    assert!(!g.is_deep());
    let g = GlobWalk::new(&pat("*.log"));
    assert_eq!(g.base_dir(), Path::new("."));
}

#[test]
fn a_symlink_loop_is_walked_once_and_ends() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path().join("L");
    touch(&r.join("a/x.log"));
    std::fs::create_dir_all(r.join("b")).unwrap();
    symlink("..", r.join("a/up")).unwrap();
    symlink("..", r.join("b/up")).unwrap();
    let res = walk(&format!("{}/**/*.log", r.display()), FollowSymlinks::Any);
    assert_eq!(names(&res, &r), ["a/x.log"]);
    assert!(!res.incomplete);
}

#[test]
fn links_follow_the_policy() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().join("logs");
    let secret = d.path().join("secret/token");
    touch(&secret);
    touch(&base.join("real.log"));
    symlink(&secret, base.join("evil.log")).unwrap();
    symlink("real.log", base.join("alias.log")).unwrap();
    let g = format!("{}/*.log", base.display());

    let inside = walk(&g, FollowSymlinks::Inside);
    assert_eq!(names(&inside, &base), ["alias.log", "real.log"]);
    let alias = inside
        .files
        .iter()
        .find(|f| f.path.ends_with("alias.log"))
        .unwrap();
    assert_eq!(
        alias.open_path,
        std::fs::canonicalize(base.join("real.log")).unwrap()
    );
    assert_eq!(inside.skipped.len(), 1);
    assert_eq!(inside.skipped[0].0, base.join("evil.log"));
    assert_eq!(
        inside.skipped[0].1,
        SkipReason::LinkOutside {
            target: std::fs::canonicalize(&secret).unwrap()
        }
    );

    assert_eq!(
        names(&walk(&g, FollowSymlinks::Any), &base),
        ["alias.log", "evil.log", "real.log"]
    );
    let none = walk(&g, FollowSymlinks::None);
    assert_eq!(names(&none, &base), ["real.log"]);
    assert_eq!(none.skipped.len(), 2);
}

#[test]
fn a_folder_link_pointing_out_is_not_entered() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().join("logs");
    touch(&d.path().join("elsewhere/s.log"));
    touch(&base.join("in/a.log"));
    symlink(d.path().join("elsewhere"), base.join("out")).unwrap();
    symlink("in", base.join("in2")).unwrap();
    let res = walk(
        &format!("{}/**/*.log", base.display()),
        FollowSymlinks::Inside,
    );
    // `in2` is the same folder as `in`: entered once.
    assert_eq!(names(&res, &base).len(), 1);
    assert!(res.skipped.iter().any(|(p, _)| p.ends_with("out")));
    let any = walk(&format!("{}/**/*.log", base.display()), FollowSymlinks::Any);
    assert!(names(&any, &base).contains(&"out/s.log".to_string()));
}

#[test]
fn fifos_and_devices_are_skipped_with_a_reason() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().join("logs");
    std::fs::create_dir_all(&base).unwrap();
    let fifo = base.join("pipe.log");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    symlink("/dev/zero", base.join("zero.log")).unwrap();
    let res = walk(&format!("{}/*.log", base.display()), FollowSymlinks::Any);
    assert!(res.files.is_empty());
    let mut reasons: Vec<String> = res.skipped.iter().map(|(_, r)| r.to_string()).collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "a FIFO, not a regular file",
            "a character device, not a regular file"
        ]
    );
}

#[test]
fn names_that_are_not_utf8_are_found() {
    let d = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"bad\xff\xfename.log");
    touch(&d.path().join(name));
    let res = walk(
        &format!("{}/*.log", d.path().display()),
        FollowSymlinks::Inside,
    );
    assert_eq!(res.files.len(), 1);
    assert_eq!(res.files[0].path.file_name().unwrap(), name);
}

#[test]
fn depth_and_entries_are_bounded_and_said() {
    let d = tempfile::tempdir().unwrap();
    let mut p = d.path().to_path_buf();
    for i in 0..40 {
        p.push(format!("d{i}"));
    }
    touch(&p.join("deep.log"));
    touch(&d.path().join("d0/top.log"));
    let g = GlobWalk::new(&pat(&format!("{}/**/*.log", d.path().display())));
    let res = g.walk(
        FollowSymlinks::Inside,
        WalkLimits::default(),
        &|_| true,
        &|| false,
    );
    assert_eq!(names(&res, d.path()), ["d0/top.log"]);
    assert!(res.incomplete);
    assert_eq!(res.limit_hit, Some("depth"));
    let small = WalkLimits {
        max_depth: 64,
        max_entries: 10,
    };
    let res = g.walk(FollowSymlinks::Inside, small, &|_| true, &|| false);
    assert_eq!(res.limit_hit, Some("entries"));
}

#[test]
fn a_missing_base_folder_gives_its_deepest_existing_folder() {
    let d = tempfile::tempdir().unwrap();
    let g = GlobWalk::new(&pat(&format!("{}/a/b/**/*.log", d.path().display())));
    assert_eq!(g.deepest_existing(), d.path());
    assert!(
        walk(
            &format!("{}/a/b/**/*.log", d.path().display()),
            FollowSymlinks::Inside
        )
        .files
        .is_empty()
    );
    std::fs::create_dir_all(d.path().join("a/b")).unwrap();
    assert_eq!(g.deepest_existing(), d.path().join("a/b"));
}

#[test]
fn a_stop_request_ends_the_walk_early() {
    let d = tempfile::tempdir().unwrap();
    for i in 0..600 {
        touch(&d.path().join(format!("f{i}.log")));
    }
    let g = GlobWalk::new(&pat(&format!("{}/*.log", d.path().display())));
    let res = g.walk(
        FollowSymlinks::Inside,
        WalkLimits::default(),
        &|_| true,
        &|| true,
    );
    assert!(res.incomplete);
    assert!(res.files.len() < 600);
}
