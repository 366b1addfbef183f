//! Finds librist through pkg-config. On Debian `librist-dev` ships
//! `librist.pc`, which links `-lrist` (`librist.so.4`, librist 0.2.7);
//! `scripts/setup.sh` installs it.

fn main() {
    if let Err(e) = pkg_config::Config::new()
        .atleast_version("0.2.7")
        .probe("librist")
    {
        println!("cargo:warning=librist not found through pkg-config ({e}); install librist-dev");
        std::process::exit(1);
    }
}
