//! Stored segments in unnamed files of a segment directory ([`package::body`]). A
//! test binary of its own: the directory is set once per process.

use bytes::Bytes;
use package::body::{keep_files_in, Body};

#[test]
fn segments_go_to_unnamed_files_in_the_directory() {
    let dir = std::env::temp_dir().join(format!("onair-segment-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    keep_files_in(&dir).unwrap();
    assert!(keep_files_in(&dir).is_err(), "the directory is set once");

    let data: Bytes = (0..50_000u32).map(|i| (i % 199) as u8).collect();
    let body = Body::stored(data.clone());
    let Body::File(file) = &body else {
        panic!("expected a segment file, got memory");
    };
    assert_eq!(file.len(), data.len());
    assert_eq!(body.to_bytes(), data);
    assert_eq!(body.slice(1000..1010), data.slice(1000..1010));

    // Unnamed: nothing appears in the directory, and the descriptor points at the
    // directory's filesystem, not at a memfd.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    use std::os::fd::AsRawFd as _;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", file.file().as_raw_fd())).unwrap();
    assert!(link.starts_with(&dir), "{}", link.display());
    std::fs::remove_dir(&dir).unwrap();
}
