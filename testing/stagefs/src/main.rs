//! `firn-stagefs BACKING_DIR MOUNTPOINT`: serves the stage-rules file system in the
//! foreground until it is unmounted (`umount MOUNTPOINT`, or `fusermount3 -u` as non-root).
//! Each refused call is printed to stderr.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [backing, mountpoint] = args.as_slice() else {
        eprintln!("usage: firn-stagefs BACKING_DIR MOUNTPOINT");
        return ExitCode::from(2);
    };
    if let Err(e) = firn_stagefs::fuse_available() {
        eprintln!("firn-stagefs: {e}");
        return ExitCode::FAILURE;
    }
    let fs = match firn_stagefs::StageFs::new(backing, firn_stagefs::Refusals::default()) {
        Ok(fs) => fs,
        Err(e) => {
            eprintln!(
                "firn-stagefs: cannot use {} as the backing folder: {e}",
                backing.display()
            );
            return ExitCode::FAILURE;
        }
    };
    match fuser::mount(fs, mountpoint, &firn_stagefs::config()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "firn-stagefs: cannot mount on {}: {e}",
                mountpoint.display()
            );
            ExitCode::FAILURE
        }
    }
}
