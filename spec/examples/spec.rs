//! Run the `spec` subcommands without the agent binary:
//! `cargo run -p firn-spec --example spec -- check spec/tests/data/002_volumes-memory.yaml`.

use clap::Parser;
use firn_spec::SpecCommand;

/// Stand-in for `firn-agent spec ...` until the agent embeds [`SpecCommand`].
#[derive(Debug, Parser)]
#[command(name = "spec")]
struct Cli {
    #[command(subcommand)]
    command: SpecCommand,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let code = firn_spec::run(
        &cli.command,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(2))
}
