//! Finds libsrt through pkg-config. On Debian `libsrt-openssl-dev` ships
//! `srt.pc`, which links `-lsrt` (`libsrt.so` -> `libsrt.so.1.5`, the OpenSSL
//! flavour); `scripts/setup.sh` installs it.

fn main() {
    if let Err(e) = pkg_config::Config::new()
        .atleast_version("1.5")
        .probe("srt")
    {
        println!(
            "cargo:warning=libsrt not found through pkg-config ({e}); install libsrt-openssl-dev"
        );
        std::process::exit(1);
    }
}
