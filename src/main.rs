//! The `clickcollect` binary: parses the command line and calls into the library.

fn main() {
    std::process::exit(clickcollect::cli::main(std::env::args().skip(1).collect()));
}
