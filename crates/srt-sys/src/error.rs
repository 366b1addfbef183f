//! libsrt's thread-local last error as `std::io::Error`.

use std::ffi::{c_int, CStr};
use std::io;

use crate::ffi;

/// The calling thread's last libsrt error, with libsrt's message, prefixed
/// with what was being done.
pub(crate) fn last_error(what: &str) -> io::Error {
    let mut sys_errno: c_int = 0;
    // SAFETY: srt_getlasterror writes one int through a valid pointer.
    let code = unsafe { ffi::srt_getlasterror(&mut sys_errno) };
    // SAFETY: srt_getlasterror_str returns a NUL-terminated string owned by
    // libsrt's thread-local error slot, valid until the next libsrt call on
    // this thread; it is copied before any other call.
    let message = unsafe { cstr_lossy(ffi::srt_getlasterror_str()) };
    let kind = kind_of(code);
    // SAFETY: no arguments; resets this thread's error slot.
    unsafe { ffi::srt_clearlasterror() };
    io::Error::new(kind, format!("{what}: {message}"))
}

/// A refused connection: libsrt's reject reason says why (e.g. a wrong
/// passphrase) far better than "connection setup failure".
pub(crate) fn rejected(sock: ffi::SRTSOCKET, what: &str) -> io::Error {
    let err = last_error(what);
    if err.kind() != io::ErrorKind::ConnectionRefused {
        return err;
    }
    // SAFETY: plain integer handle; an unknown socket yields a reason code,
    // not undefined behaviour.
    let reason = unsafe { ffi::srt_getrejectreason(sock) };
    // SAFETY: srt_rejectreason_str returns a pointer to a static
    // NUL-terminated string for any id (out-of-range ids map to "unknown").
    let text = unsafe { cstr_lossy(ffi::srt_rejectreason_str(reason)) };
    io::Error::new(err.kind(), format!("{err} ({text})"))
}

fn kind_of(code: c_int) -> io::ErrorKind {
    match code {
        ffi::SRT_ECONNREJ => io::ErrorKind::ConnectionRefused,
        ffi::SRT_ENOSERVER | ffi::SRT_ETIMEOUT => io::ErrorKind::TimedOut,
        ffi::SRT_ECONNLOST => io::ErrorKind::ConnectionReset,
        ffi::SRT_ENOCONN => io::ErrorKind::NotConnected,
        ffi::SRT_EINVPARAM => io::ErrorKind::InvalidInput,
        ffi::SRT_EBINDCONFLICT => io::ErrorKind::AddrInUse,
        ffi::SRT_EASYNCSND | ffi::SRT_EASYNCRCV => io::ErrorKind::WouldBlock,
        _ => io::ErrorKind::Other,
    }
}

/// Copies a C string; a null pointer reads as empty.
///
/// # Safety
/// `ptr` is null or points to a NUL-terminated string valid for this call.
pub(crate) unsafe fn cstr_lossy(ptr: *const std::ffi::c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: non-null and NUL-terminated per this function's contract.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}
