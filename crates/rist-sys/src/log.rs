//! librist's log lines go to `tracing` (target `librist`); the error lines
//! logged on a thread are kept so that a failed call can say why.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::OnceLock;

use crate::ffi;

thread_local! {
    static LAST_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The error lines librist logged on this thread since the last call.
pub(crate) fn take_error() -> Option<String> {
    LAST_ERROR
        .try_with(|e| e.try_borrow_mut().ok().and_then(|mut e| e.take()))
        .ok()
        .flatten()
}

unsafe extern "C" fn on_log(
    _arg: *mut c_void,
    level: ffi::rist_log_level,
    msg: *const c_char,
) -> c_int {
    if msg.is_null() {
        return 0;
    }
    // SAFETY: librist passes a NUL-terminated message valid for the call.
    let text = unsafe { CStr::from_ptr(msg) }.to_string_lossy();
    let text = text.trim();
    let _ = std::panic::catch_unwind(|| {
        if level <= ffi::RIST_LOG_ERROR {
            tracing::warn!(target: "librist", "{text}");
            let _ = LAST_ERROR.try_with(|e| {
                if let Ok(mut e) = e.try_borrow_mut() {
                    *e = Some(match e.take() {
                        Some(before) => format!("{before}; {text}"),
                        None => text.to_owned(),
                    });
                }
            });
        } else if level <= ffi::RIST_LOG_WARN {
            tracing::info!(target: "librist", "{text}");
        } else {
            tracing::debug!(target: "librist", "{text}");
        }
    });
    0
}

/// The process-wide logging settings every context is created with.
pub(crate) fn settings() -> *mut ffi::rist_logging_settings {
    static SETTINGS: OnceLock<usize> = OnceLock::new();
    let addr = *SETTINGS.get_or_init(|| {
        let mut s = ptr::null_mut();
        // SAFETY: `s` is a valid out pointer; librist allocates the settings,
        // which live for the process (never freed: contexts keep a pointer).
        let rc = unsafe {
            ffi::rist_logging_set(
                &mut s,
                ffi::RIST_LOG_WARN,
                Some(on_log),
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if rc != 0 {
            return 0;
        }
        s as usize
    });
    addr as *mut ffi::rist_logging_settings
}
