//! Compiles the variadic `ioth_newstackl` (C: stable Rust cannot define a variadic function)
//! into a static library that rustc bundles into `libioth.a`, so that both the archive and
//! the `libioth.so.0` linked from it by ioth-clink define it.

fn main() {
    println!("cargo:rerun-if-changed=src/newstackl.c");
    cc::Build::new()
        .file("src/newstackl.c")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("ioth_newstackl");
}
